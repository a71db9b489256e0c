"""Everyday scenes: the held-out coco_subset persons, each in its own box.

LSP and LSPET are sports photos; users' photos are streets, rooms and groups. The coco_subset persons
(COCO 2017 photos, ../shared/data) show those, and tools/default_model_data.py holds every 5th image
out of the default model's training (`coco_split`): 46 persons in 20 photos. Each person is cut out of
its photo by its COCO box padded 1.25x about its centre (a detector's box as posekit pads it; the crop
stops at the photo's edge, so other people may be in it), and every model sees that crop whole, as in
peers_lsp.py: posekit model files given with --model (default: the shipped one), MoveNet Lightning
int8 and, with --mediapipe-python, MediaPipe. PCK@0.2 of the torso (right shoulder - left hip) over
the 12 limb joints COCO-17 and LSP-14 share, for the persons whose torso is labelled (42 of 46): a
small set, so differences under about 0.05 are noise.

    .venv/bin/python benchmarks/everyday_coco.py [--model NAME=FILE ...] [--mediapipe-python PY] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))
import peers_lsp  # noqa: E402
from default_model_data import coco_split  # noqa: E402

from posekit.data.io import load_image  # noqa: E402

LIMBS = peers_lsp.LIMBS
PADDING = 1.25
GROUPS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def person_crops(folder: Path) -> tuple[list[str], np.ndarray]:
    """The held-out persons' crops written to `folder` as PNG, and their GT (N, 12, 3) in crop pixels;
    persons without a labelled torso are left out (nothing to normalise by)."""
    _, held_out = coco_split(peers_lsp.SHARED / "data")
    names = held_out.keypoint_set.names
    index = [names.index(n) for n in LIMBS]
    rs, lh = LIMBS.index("right_shoulder"), LIMBS.index("left_hip")
    paths, gts = [], []
    for record in held_out.records:
        image = load_image(record.file_name)
        for person in record.persons:
            gt = person.keypoints[index].astype(np.float64)
            if not (gt[[rs, lh], 2] > 0).all():
                continue
            x, y, w, h = person.bbox
            cx, cy, half_w, half_h = x + w / 2, y + h / 2, PADDING * w / 2, PADDING * h / 2
            x1, y1 = max(int(np.floor(cx - half_w)), 0), max(int(np.floor(cy - half_h)), 0)
            x2, y2 = min(int(np.ceil(cx + half_w)), record.width), min(int(np.ceil(cy + half_h)), record.height)
            path = folder / f"{record.image_id}_{person.id}.png"
            cv2.imwrite(str(path), cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_RGB2BGR))
            gt[:, :2] -= (x1, y1)
            paths.append(str(path))
            gts.append(gt)
    return paths, np.stack(gts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", default=[], metavar="NAME=FILE",
                   help="a posekit model file to score (repeatable; default: the shipped model)")
    p.add_argument("--mediapipe-python", help="a python with mediapipe==0.10.21 (side virtualenv)")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args()
    models = peers_lsp.model_runners(args.model, args.mediapipe_python)
    with tempfile.TemporaryDirectory() as tmp:
        crops, gt = person_crops(Path(tmp))
        rows = peers_lsp.score_runners(models, crops, gt, GROUPS)
    print(peers_lsp.rows_table(f"PCK@0.2 (torso) on {len(crops)} held-out coco_subset persons, each in its "
                               f"box padded {PADDING}x:", rows, (*GROUPS, "total")))
    if args.json:
        print(json.dumps({"persons": len(crops), "runs": rows, "command": " ".join(sys.argv)}))


if __name__ == "__main__":
    main()
