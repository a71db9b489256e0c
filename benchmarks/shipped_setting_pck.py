"""Checkpoints scored as the shipped default model runs: the shipped file's inference setting (whole-image
box padding, refine factor, closer looks, flip test) with each checkpoint's weights in fp16, whole image as
the box, PCK@0.2 of the torso over the 12 limb joints (benchmarks/peers_lsp.py's sets and scorer).

It is the number packing chooses by, for a candidate before it is packed: packing
(`tools/train_default_model.py --pack`) scores ten settings on both sets (about 27 minutes on 2 cores);
this scores the one the shipped file uses, on LSPET 7,001-8,000 by default (2-3 minutes a checkpoint).

    .venv/bin/python benchmarks/shipped_setting_pck.py runs/a/last.pt runs/b/last.pt [--lsp-test] [--limit N]

`--joints-box` also scores each checkpoint given the box of each person's labelled joints (padded as in
training, flip test, no closer look): the best a person detector could hand it, so the difference from the
whole-image score is what finding the person costs. `default` as a checkpoint scores the shipped file itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from peers_lsp import SHARED, run_posekit, score, test_sets

from posekit.data.readers import read_lsp, read_lspet
from posekit.inference.model_file import DEFAULT_MODEL, read_model_file, save_model_file
from posekit.models.safe_load import load_weights_only
from posekit.training.checkpoint import network_weights



def with_weights(shipped: dict, checkpoint: Path) -> dict:
    """The shipped model file with `checkpoint`'s network weights (fp16, as packing stores them)."""
    try:
        weights = network_weights(load_weights_only(checkpoint, "checkpoint"))
    except (OSError, ValueError) as exc:  # missing, or not a file torch writes: one line naming it
        raise SystemExit(f"shipped_setting_pck: {exc}") from None
    if weights is None:
        raise SystemExit(f"shipped_setting_pck: {checkpoint}: not a posekit checkpoint or model file")
    if weights.keys() != shipped["weights"].keys() or any(
            weights[k].shape != v.shape for k, v in shipped["weights"].items()):
        raise SystemExit(f"shipped_setting_pck: {checkpoint}: its network is not the shipped model's "
                         f"({shipped['model']})")
    return {**shipped, "weights": {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}}


def joints_boxes(limit: int) -> dict[str, list[np.ndarray]]:
    """Set name (as test_sets) -> per image a (1, 4) x, y, w, h box of the person's labelled joints (all 14)."""
    records = {"LSP test": read_lsp(SHARED / "data" / "lsp", "test").records,
               "LSPET 7001-8000": [r for r in read_lspet(SHARED / "data" / "lspet").records if r.image_id > 7000]}
    out = {}
    for name, recs in records.items():
        boxes = []
        for record in recs[:limit] if limit else recs:
            keypoints = record.persons[0].keypoints
            xy = keypoints[keypoints[:, 2] > 0, :2]
            x1, y1 = xy.min(axis=0)
            x2, y2 = xy.max(axis=0)
            boxes.append(np.array([[x1, y1, x2 - x1, y2 - y1]], np.float32))
        out[name] = boxes
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the model file whose setting is used")
    p.add_argument("--lsp-test", action="store_true", help="also score LSP test (1,001-2,000)")
    p.add_argument("--limit", type=int, default=0, help="first N images of each set (0 = all 1,000)")
    p.add_argument("--joints-box", action="store_true",
                   help="also score with each person's labelled joints' box given (what finding the person costs)")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args(argv)
    try:
        shipped = read_model_file(args.model)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"shipped_setting_pck: {exc}") from None
    setting = {k: shipped.get(k) for k in ("whole_image_padding", "refine", "refine_looks")}
    print(f"setting of {args.model}: {setting}", flush=True)
    sets = test_sets(args.limit)
    names = [n for n in sets if n.startswith("LSPET")] + ([n for n in sets if n.startswith("LSP test")]
                                                          if args.lsp_test else [])
    boxes = joints_boxes(args.limit) if args.joints_box else {}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for checkpoint in args.checkpoints:
            trial = args.model if str(checkpoint) == "default" else save_model_file(
                with_weights(shipped, checkpoint), Path(tmp) / "trial.pt")
            for name in names:
                paths, gt = sets[name]
                for label, given in [(name, None)] + ([(f"{name}, joints' box", boxes[name])] if boxes else []):
                    pred, seconds = run_posekit(paths, model=str(trial), boxes=given)
                    results.setdefault(str(checkpoint), {})[label] = round(score(pred, gt)["total"], 4)
                    print(f"{checkpoint} {label} {results[str(checkpoint)][label]:.4f} "
                          f"({len(paths) / seconds:.1f} img/s)", flush=True)
    if args.json:
        print(json.dumps({"setting": setting, "pck_limbs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
