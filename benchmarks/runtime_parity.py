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


def differences(a: list[dict], b: list[dict]) -> np.ndarray:
    """Per keypoint of every person, the largest of its |x|, |y| and |score| differences."""
    if len(a) != len(b):
        raise SystemExit(f"different numbers of persons: torch {len(a)}, runtime {len(b)}")
    return np.concatenate([np.abs(x["keypoints"] - y["keypoints"]).max(axis=1) for x, y in zip(a, b)] or [np.zeros(0)])


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
        whole, boxed = [], []
        for path in paths:
            h, w = cv2.imread(str(path)).shape[:2]
            box = np.array([[0.2 * w, 0.1 * h, 0.6 * w, 0.8 * h, 1.0]])
            whole.append(differences(model(str(path)), runtime(str(path))))
            boxed.append(differences(model(str(path), boxes=box), runtime(str(path), boxes=box)))
    whole, boxed = np.concatenate(whole), np.concatenate(boxed)
    # A trained SimCC head can give a keypoint two peaks closer than float32 noise (1e-6), where
    # onnxruntime and torch may pick different bins: count such keypoints, not only the largest move.
    beyond = {"whole_image": int((whole > 1e-4).sum()), "box": int((boxed > 1e-4).sum())}
    result = {"checkpoint": args.checkpoint, "model": model.name, "codec": type(model.estimator.codec).__name__,
              "images": len(paths), "keypoints": {"whole_image": len(whole), "box": len(boxed)},
              "max_abs_diff_px": {"whole_image": float(whole.max(initial=0.0)), "box": float(boxed.max(initial=0.0))},
              "beyond_1e-4": beyond, "within_1e-4": not any(beyond.values())}
    print(f"{model.name} ({result['codec']}), {len(paths)} images from {args.images}: largest keypoint difference "
          f"{result['max_abs_diff_px']['whole_image']:.2e} px (whole image as the box; {beyond['whole_image']} of "
          f"{len(whole)} keypoints beyond 1e-4), {result['max_abs_diff_px']['box']:.2e} px (a fixed box; "
          f"{beyond['box']} of {len(boxed)} beyond 1e-4)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
