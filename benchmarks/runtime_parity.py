"""posekit.runtime (ONNX, no torch) against the torch predictor on the same trained model and images.

The test suite checks parity on untrained networks (tests/test_runtime.py): 1e-4 px for SimCC, 1e-3 px
for heatmaps, where DARK's Newton step on an untrained network's nearly flat maps magnifies the float32
difference between onnxruntime's and torch's convolutions. This script measures the same comparison on
a trained model, which no test can ship: it exports CHECKPOINT with `posekit export`, runs
`posekit.load(CHECKPOINT)` and `posekit.runtime.load(ONNX)` on the first --limit images of --images,
once with the whole image as the box and once with a fixed box (the central 60 % x 80 %), and prints the
largest keypoint difference (x, y, score) in image pixels.

    python benchmarks/runtime_parity.py runs/ssl_lsp/n3000/supervised/last.pt --images ../shared/data/lsp/images
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

import posekit
import posekit.runtime
from posekit.commands.export import export_pose_model


def largest_difference(a: list[dict], b: list[dict]) -> float:
    if len(a) != len(b):
        raise SystemExit(f"different numbers of persons: torch {len(a)}, runtime {len(b)}")
    return max((float(np.abs(x["keypoints"] - y["keypoints"]).max()) for x, y in zip(a, b)), default=0.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a training checkpoint or model file")
    p.add_argument("--images", default="../shared/data/lsp/images", help="a folder of .jpg images")
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args(argv)
    paths = sorted(Path(args.images).glob("*.jpg"))[:args.limit]
    if not paths:
        raise SystemExit(f"--images {args.images}: no .jpg images")
    model = posekit.load(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "model.onnx"
        export_pose_model(model, onnx)
        runtime = posekit.runtime.load(onnx, threads=args.threads)
        whole = boxed = 0.0
        for path in paths:
            h, w = cv2.imread(str(path)).shape[:2]
            box = np.array([[0.2 * w, 0.1 * h, 0.6 * w, 0.8 * h, 1.0]])
            whole = max(whole, largest_difference(model(str(path)), runtime(str(path))))
            boxed = max(boxed, largest_difference(model(str(path), boxes=box), runtime(str(path), boxes=box)))
    result = {"checkpoint": args.checkpoint, "model": model.name, "codec": type(model.estimator.codec).__name__,
              "images": len(paths), "max_abs_diff_px": {"whole_image": whole, "box": boxed},
              "within_1e-4": max(whole, boxed) <= 1e-4}
    print(f"{model.name} ({result['codec']}), {len(paths)} images from {args.images}: largest keypoint difference "
          f"{whole:.2e} px (whole image as the box), {boxed:.2e} px (a fixed box)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
