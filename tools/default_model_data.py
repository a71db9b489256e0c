"""The default model's data, as COCO keypoint JSON.

  train: LSP train (images 1-1,000) + LSPET images 1-7,000      (8,000 persons, lsp14)
  val:   LSPET images 7,001-8,000                                (held out: model selection only)
  test:  LSP test (images 1,001-2,000)                           (never trained on)

Each training person appears twice: with the whole image as its box, and with its joints' box padded
1.25x. The whole image is how the model is first used (a photo, no detector: the whole image letterboxed
is the crop), but in LSPET the person is often a fifth of the photo, so the model also learns from
person-sized crops, which its second pass sees (PoseModel's refine: a crop around the first pass's
keypoints). Validation and test use the whole image only. File names are relative to the data root
(``../shared/data``), which is the configs' image root.

    python tools/default_model_data.py [--data ../shared/data] [--out runs/default_model/data]
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from posekit.data.convert import write_coco
from posekit.data.readers import read_lsp, read_lspet
from posekit.data.records import PoseData

LSPET_TRAIN_LAST = 7000  # LSPET 7,001-8,000 is the validation part; never train on it


def whole_image_boxes(data: PoseData) -> PoseData:
    records = []
    for r in data.records:
        box = np.array([0.0, 0.0, r.width, r.height], dtype=np.float32)
        persons = [replace(p, bbox=box, area=float(r.width * r.height)) for p in r.persons]
        records.append(replace(r, persons=persons))
    return replace(data, records=records)


def with_joint_boxes(data: PoseData, padding: float = 1.25) -> PoseData:
    """Each person twice: the whole image as its box, and its labelled joints' box padded by `padding`."""
    records = []
    for r in whole_image_boxes(data).records:
        persons = list(r.persons)
        for p in r.persons:
            labelled = p.keypoints[p.keypoints[:, 2] > 0, :2]
            if len(labelled) < 2:
                continue
            (x1, y1), (x2, y2) = labelled.min(axis=0), labelled.max(axis=0)
            cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * padding, (y2 - y1) * padding
            box = np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float32)
            persons.append(replace(p, bbox=box, area=float(w * h), id=p.id + 1_000_000))
        records.append(replace(r, persons=persons))
    return replace(data, records=records)


def renumbered(data: PoseData, offset: int) -> PoseData:
    """Image and person ids shifted by `offset`, so LSP and LSPET ids never collide in one file."""
    records = [replace(r, image_id=r.image_id + offset, persons=[replace(p, id=p.id + offset) for p in r.persons])
               for r in data.records]
    return replace(data, records=records)


def prepare(data_root: Path, out: Path) -> dict[str, Path]:
    lsp_train = read_lsp(data_root / "lsp", "train")
    lsp_test = read_lsp(data_root / "lsp", "test")
    lspet = renumbered(read_lspet(data_root / "lspet"), 100_000)
    lspet_train = [r for r in lspet.records if r.image_id - 100_000 <= LSPET_TRAIN_LAST]
    lspet_val = [r for r in lspet.records if r.image_id - 100_000 > LSPET_TRAIN_LAST]
    train = replace(lsp_train, records=lsp_train.records + lspet_train, source="LSP train + LSPET 1-7000")
    splits = {"train": train, "val": replace(lspet, records=lspet_val, source="LSPET 7001-8000"),
              "test": replace(lsp_test, source="LSP test")}
    boxes = {"train": with_joint_boxes, "val": whole_image_boxes, "test": whole_image_boxes}
    return {name: write_coco(boxes[name](d), out / f"{name}.json", image_root=data_root)
            for name, d in splits.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data", help="folder holding lsp/ and lspet/")
    p.add_argument("--out", default="runs/default_model/data")
    args = p.parse_args()
    for name, path in prepare(Path(args.data).resolve(), Path(args.out)).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
