"""Waist-up and chest-up photos: LSP test cut below the hips (a person behind a table or a desk) or
across the chest (a portrait).

Every LSP photo shows the whole body, so the peers benchmark (peers_lsp.py) never asks a model to find
joints in a person whose legs are out of the picture, which is how most photos of people are taken.
This benchmark cuts each of the 1,000 LSP test images (1,001-2,000) just below the hips (the lower hip
plus a fifth of the torso, right shoulder - left hip), keeps the full width, and scores the 8 joints
left in view: shoulders, elbows, wrists and hips, PCK@0.2 of the torso (the same normaliser as
peers_lsp.py; knees and ankles are not counted even where a bent leg stays in the crop). Each model
sees the whole cropped photo, as in peers_lsp.py: posekit model files given with --model (default: the
shipped one), MoveNet Lightning int8 as the baseline, and MediaPipe with --mediapipe-python.

`--framing chest` cuts each photo instead 0.4 torso lengths below the lower shoulder, a portrait's
framing, and scores the shoulders, elbows and wrists still in the picture (the normaliser is the uncut
photo's torso: the left hip is out of the picture).

    .venv/bin/python benchmarks/upper_body_lsp.py [--framing waist|chest] [--model NAME=FILE ...] [--limit N]
                                                  [--mediapipe-python PY]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers_lsp  # noqa: E402

from posekit.data.io import load_image  # noqa: E402

LIMBS = peers_lsp.LIMBS
# framing -> (the joints whose lowest one the cut is measured from, torso lengths below it, the groups scored)
FRAMINGS = {
    "waist": ("hip", 0.2, ("shoulder", "elbow", "wrist", "hip")),
    "chest": ("shoulder", 0.4, ("shoulder", "elbow", "wrist")),
}


def cut_photos(paths: list[str], gt: np.ndarray, folder: Path,
               framing: str = "waist") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Crops written to `folder` as PNG, their GT and each person's torso (the normaliser, from the uncut
    GT). The crop keeps the top-left corner, so coordinates are unchanged; joints outside the scored
    groups, and (chest) those cut off, are unlabelled. Persons without the torso (right shoulder, left
    hip) or both joints the cut is measured from are left out: nothing to normalise by or to cut below."""
    reference, below, groups = FRAMINGS[framing]
    rs, lh = LIMBS.index("right_shoulder"), LIMBS.index("left_hip")
    level = [i for i, name in enumerate(LIMBS) if name.endswith(reference)]
    needed = sorted({rs, lh, *level})
    unscored = [i for i, name in enumerate(LIMBS) if not name.endswith(groups)]
    out_paths, out_gt, out_torso = [], [], []
    for i, (path, person) in enumerate(zip(paths, gt)):
        if not (person[needed, 2] > 0).all():
            continue
        image = load_image(path)
        torso = float(np.linalg.norm(person[rs, :2] - person[lh, :2]))
        bottom = int(np.ceil(person[level, 1].max() + below * torso))
        bottom = min(max(bottom, 1), image.shape[0])
        crop_path = folder / f"{i:04d}.png"
        cv2.imwrite(str(crop_path), cv2.cvtColor(image[:bottom], cv2.COLOR_RGB2BGR))
        person = person.copy()
        person[unscored, 2] = 0
        if framing == "chest":
            person[person[:, 1] >= bottom, 2] = 0
        out_paths.append(str(crop_path))
        out_gt.append(person)
        out_torso.append(torso)
    return out_paths, np.stack(out_gt), np.array(out_torso)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--framing", choices=sorted(FRAMINGS), default="waist",
                   help="waist: cut below the hips (default); chest: cut across the chest, a portrait")
    p.add_argument("--model", action="append", default=[], metavar="NAME=FILE",
                   help="a posekit model file to score (repeatable; default: the shipped model)")
    p.add_argument("--limit", type=int, default=0, help="first N images of LSP test (0 = all 1,000)")
    p.add_argument("--mediapipe-python", help="a python with mediapipe==0.10.21 (side virtualenv)")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args()
    models = peers_lsp.model_runners(args.model, args.mediapipe_python)
    groups = FRAMINGS[args.framing][2]
    paths, gt = peers_lsp.test_sets(args.limit)["LSP test"]
    with tempfile.TemporaryDirectory() as tmp:
        crops, crop_gt, torso = cut_photos(paths, gt, Path(tmp), args.framing)
        print(f"{len(crops)} of {len(paths)} LSP test images cut ({args.framing} up)", file=sys.stderr)
        rows = peers_lsp.score_runners(models, crops, crop_gt, groups, torso)
    print(peers_lsp.rows_table(f"PCK@0.2 (torso) on {len(crops)} {args.framing}-up crops of LSP test, "
                               f"{', '.join(groups)}:", rows, (*groups, "total")))
    if args.json:
        print(json.dumps({"framing": args.framing, "images": len(crops), "runs": rows, "command": " ".join(sys.argv)}))


if __name__ == "__main__":
    main()
