"""The whole image as the box, then a second look: which second look, measured side by side.

A model file with refine on runs twice when no person box is given: once on the whole photo, then on a
crop around the first pass's keypoints (inference.predictor). Three choices shape that second look, and
this script scores each combination from the same first pass, on the 1,000 LSP test images and on LSPET
7,001-8,000 (benchmarks/peers_lsp.py's sets and scorer: PCK@0.2 of the torso over the 12 limb joints):
  - which keypoints make the box: those scoring at least half, or a quarter, of the best score;
  - how far the box is enlarged before the crop (`refine`, on top of the training crops' padding);
  - which look is kept: always the second unless it found nothing, or the better-scoring one;
  - whether a third look follows, made from the second as the second was from the first (keypoints
    at least a quarter of the best, the same enlargement, kept unless it found nothing).
"no second look" is the first pass alone.

    .venv/bin/python benchmarks/refine_lsp.py [--model FILE] [--limit N] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers_lsp  # noqa: E402

from posekit.data.io import load_image  # noqa: E402
from posekit.data.transforms.geometry import keep_second, refine_box  # noqa: E402

MIN_SCORES = (0.5, 0.25)
PADDINGS = (1.0, 1.15, 1.3)


def second_looks(model, paths: list[str]) -> dict[str, np.ndarray]:
    """Rule name -> (N, 12, 3) limb keypoints in image pixels, every rule from the same first pass."""
    index = [model.keypoint_set.names.index(n) for n in peers_lsp.LIMBS]
    model.predictor.refine = 0.0  # the first pass alone; the second looks are made here
    out: dict[str, list[np.ndarray]] = {}
    for path in paths:
        image = load_image(path)
        first = model(image, rgb=True)[0]
        out.setdefault("no second look", []).append(first["keypoints"][index])
        for min_score in MIN_SCORES:
            for padding in PADDINGS:
                box = refine_box(first["keypoints"].astype(np.float64), image.shape[1], image.shape[0],
                                 padding=padding, min_score=min_score)
                second = model(image, boxes=box, rgb=True)[0] if box is not None else first
                rule = f"keypoints >= {min_score} x best, refine {padding}"
                always = second if keep_second(second["score"]) else first  # the predictors' rule
                # the rule until stage 6: the second look only when it scores at least as well
                better = second if second["score"] >= first["score"] and second["score"] > 0 else first
                out.setdefault(f"{rule}, keep the second", []).append(always["keypoints"][index])
                out.setdefault(f"{rule}, keep the better-scoring", []).append(better["keypoints"][index])
                if min_score == 0.25:
                    box = refine_box(always["keypoints"].astype(np.float64), image.shape[1], image.shape[0],
                                     padding=padding, min_score=min_score)
                    third = model(image, boxes=box, rgb=True)[0] if box is not None else always
                    third = third if keep_second(third["score"]) else always
                    out.setdefault(f"{rule}, keep the second, then a third look", []).append(third["keypoints"][index])
    return {rule: np.stack(preds) for rule, preds in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a posekit model file (default: the shipped one)")
    p.add_argument("--limit", type=int, default=0, help="first N images of each set (0: all)")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args()
    import posekit
    model = posekit.load(args.model)
    rows: dict[str, dict[str, float]] = {}
    for name, (paths, gt) in peers_lsp.test_sets(args.limit).items():
        for rule, pred in second_looks(model, paths).items():
            rows.setdefault(rule, {})[name] = round(peers_lsp.score(pred, gt)["total"], 4)
    sets = list(next(iter(rows.values())))
    print("| second look | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for rule, scores in rows.items():
        print(f"| {rule} | " + " | ".join(f"{scores[s]:.3f}" for s in sets) + " |")
    if args.json:
        print(json.dumps({"model": args.model or "shipped", "rows": rows, "command": " ".join(sys.argv)}))


if __name__ == "__main__":
    main()
