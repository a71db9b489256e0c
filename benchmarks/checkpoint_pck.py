"""Quick PCK of training checkpoints, the ablation probe behind docs/default_model.md's early-iteration
table: each checkpoint on the first N images of LSP test and LSPET 7,001-8,000, with the whole image as
the box (box padding 1.0 and 1.25) and, on LSP test, with the labelled joints' box; no flip test; PCK@0.2
of the torso over the 12 limb joints (benchmarks/peers_lsp.py's scorer).

`--fit` adds the same probe on as many *training* images (LSP train from image 1, LSPET from image 6,001),
whole image padded 1.0: a model that scores about as well on the images it learned from as on the held-out
ones is short of capacity or training, not of data (the question "what it would take" asks).

    .venv/bin/python benchmarks/checkpoint_pck.py runs/a/last.pt runs/b/last.pt [--images 100] [--fit] [--json]
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
from posekit.data.readers import read_lsp, read_lspet  # noqa: E402
from posekit.experiment import load_experiment  # noqa: E402
from posekit.inference.api import PoseModel  # noqa: E402


def training_sets(limit: int) -> dict[str, tuple[list[str], np.ndarray]]:
    """peers_lsp.test_sets' twins on images the default model trained on: LSP train and LSPET 6,001-7,000
    (name -> image paths, GT (N, 12, 3) in LIMBS order); limit 0 takes all."""
    lsp = read_lsp(peers_lsp.SHARED / "data" / "lsp", "train")
    lspet = read_lspet(peers_lsp.SHARED / "data" / "lspet")
    sets = {"LSP train": lsp.records, "LSPET 6001-7000 (trained)": [r for r in lspet.records if 6000 < r.image_id <= 7000]}
    return peers_lsp.limb_sets(sets, lsp.keypoint_set.names, limit)


def whole_image_pck(model: PoseModel, sets: dict, padding_label: str) -> dict[str, float]:
    index = [model.keypoint_set.names.index(n) for n in peers_lsp.LIMBS]
    out = {}
    for name, (paths, gt) in sets.items():
        pred = np.stack([model(load_image(p), rgb=True)[0]["keypoints"][index] for p in paths])
        out[f"{name}, whole image, padding {padding_label}"] = round(peers_lsp.score(pred, gt)["total"], 3)
    return out


def probe(checkpoint: str, images: int, fit: bool = False) -> dict[str, float]:
    cfg, estimator = load_experiment(checkpoint)
    sets = peers_lsp.test_sets(images)
    out = {}
    for padding in (1.0, 1.25):
        model = PoseModel(estimator, "topdown", cfg.data.input_size, padding, flip_test=False)
        out.update(whole_image_pck(model, sets, str(padding)))
        if fit and padding == 1.0:
            out.update(whole_image_pck(model, training_sets(images), str(padding)))
    index = [model.keypoint_set.names.index(n) for n in peers_lsp.LIMBS]
    paths, gt = sets["LSP test"]
    boxes = []
    for joints in gt:
        labelled = joints[joints[:, 2] > 0, :2]
        (x1, y1), (x2, y2) = labelled.min(axis=0), labelled.max(axis=0)
        boxes.append([x1, y1, x2 - x1, y2 - y1])
    pred = np.stack([model(load_image(p), boxes=np.array([b]), rgb=True)[0]["keypoints"][index]
                     for p, b in zip(paths, boxes)])  # limb-joint box; padding 1.25
    out["LSP test, joints' box"] = round(peers_lsp.score(pred, gt)["total"], 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--fit", action="store_true", help="also score as many training images (padding 1.0)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = {c: probe(c, args.images, args.fit) for c in args.checkpoints}
    for checkpoint, scores in results.items():
        print(checkpoint)
        for key, value in scores.items():
            print(f"  {key:<42} {value:.3f}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
