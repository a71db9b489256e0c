"""Person boxes for single-person datasets whose files give keypoints but no box (LSP, LSPET), and
id renumbering so two such sets can share one COCO file."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from posekit.data.records import PoseData


def whole_image_boxes(data: PoseData) -> PoseData:
    """Each person's box: the whole image (how a user runs a single-person model without a detector)."""
    records = []
    for r in data.records:
        box = np.array([0.0, 0.0, r.width, r.height], dtype=np.float32)
        persons = [replace(p, bbox=box, area=float(r.width * r.height)) for p in r.persons]
        records.append(replace(r, persons=persons))
    return replace(data, records=records)


def joint_boxes(data: PoseData) -> PoseData:
    """Each person's box: its labelled joints' box (datasets pad it by bbox_padding); persons with
    fewer than two labelled joints are dropped."""
    records = []
    for r in data.records:
        persons = []
        for p in r.persons:
            labelled = p.keypoints[p.keypoints[:, 2] > 0, :2]
            if len(labelled) < 2:
                continue
            (x1, y1), (x2, y2) = labelled.min(axis=0), labelled.max(axis=0)
            box = np.array([x1, y1, max(x2 - x1, 1.0), max(y2 - y1, 1.0)], dtype=np.float32)
            persons.append(replace(p, bbox=box, area=float(box[2] * box[3])))
        records.append(replace(r, persons=persons))
    return replace(data, records=records)


def renumbered(data: PoseData, offset: int) -> PoseData:
    """Image and person ids shifted by `offset`, so LSP and LSPET ids never collide in one file."""
    records = [replace(r, image_id=r.image_id + offset, persons=[replace(p, id=p.id + offset) for p in r.persons])
               for r in data.records]
    return replace(data, records=records)
