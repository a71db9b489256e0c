"""Waist-up, chest-up and portrait photos: LSP test cut below the hips (a person behind a table or a
desk), across the chest, or to the head and shoulders.

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

`--framing portrait` crops each upright person (torso within 60 degrees of vertical) to the head and
shoulders, as a portrait or a video call is framed: 0.15 torso lengths below the lower shoulder, 0.75
above the higher one, and 0.9 shoulder widths (at least 0.4 torso lengths) either side of the shoulders'
middle, clipped to the photo. Only the shoulders are scored: the other limb joints are out of the picture.

    .venv/bin/python benchmarks/upper_body_lsp.py [--framing waist|chest|portrait] [--model NAME=FILE ...] [--limit N]
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
    "portrait": ("shoulder", 0.15, ("shoulder",)),
}
# The portrait's extent, in torso lengths above the higher shoulder and shoulder widths either side.
PORTRAIT_ABOVE, PORTRAIT_SIDE, PORTRAIT_MIN_WIDTH = 0.75, 0.9, 0.4


def portrait_box(person: np.ndarray, torso: float, shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(left, top, right) of an upright person's head-and-shoulders crop, clipped to the photo (`shape`);
    None when the torso leans more than 60 degrees from vertical (a lying or inverted athlete framed this
    way is no portrait)."""
    rs, ls, lh = (LIMBS.index(n) for n in ("right_shoulder", "left_shoulder", "left_hip"))
    if person[lh, 1] - person[rs, 1] < 0.5 * torso:
        return None
    width = max(abs(person[ls, 0] - person[rs, 0]), PORTRAIT_MIN_WIDTH * torso)
    middle = 0.5 * (person[ls, 0] + person[rs, 0])
    left = max(int(np.floor(middle - PORTRAIT_SIDE * width)), 0)
    right = min(int(np.ceil(middle + PORTRAIT_SIDE * width)), shape[1])
    top = max(int(np.floor(min(person[rs, 1], person[ls, 1]) - PORTRAIT_ABOVE * torso)), 0)
    return left, top, right


def cut_photos(paths: list[str], gt: np.ndarray, folder: Path,
               framing: str = "waist") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Crops written to `folder` as PNG, their GT and each person's torso (the normaliser, from the uncut
    GT). The waist and chest crops keep the top-left corner, so coordinates are unchanged; the portrait
    crop moves them by its corner. Joints outside the scored groups, and (chest, portrait) those cut off,
    are unlabelled. Persons without the torso (right shoulder, left hip) or both joints the cut is
    measured from are left out (nothing to normalise by or to cut below), and for the portrait those not
    upright."""
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
        left, top, right = 0, 0, image.shape[1]
        if framing == "portrait":
            box = portrait_box(person, torso, image.shape)
            if box is None:
                continue
            left, top, right = box
        crop_path = folder / f"{i:04d}.png"
        cv2.imwrite(str(crop_path), cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_RGB2BGR))
        person = person.copy()
        person[unscored, 2] = 0
        if framing == "chest":
            person[person[:, 1] >= bottom, 2] = 0
        if framing == "portrait":
            outside = ((person[:, 0] < left) | (person[:, 0] >= right) | (person[:, 1] < top)
                       | (person[:, 1] >= bottom))
            person[outside, 2] = 0
        person[:, :2] -= (left, top)
        out_paths.append(str(crop_path))
        out_gt.append(person)
        out_torso.append(torso)
    return out_paths, np.stack(out_gt), np.array(out_torso)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--framing", choices=sorted(FRAMINGS), default="waist",
                   help="waist: cut below the hips (default); chest: cut across the chest; portrait: head "
                        "and shoulders")
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
