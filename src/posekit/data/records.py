"""The one in-memory record type every reader produces and every dataset consumes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posekit.keypoints import KeypointSet


class DataError(ValueError):
    """Bad input data; the message names the file (and record) and what is wrong."""


@dataclass
class Person:
    """One annotated person. keypoints: (K, 3) float32 of x, y, v with COCO visibility
    (0 not labelled, 1 labelled but occluded, 2 visible); bbox: (4,) x, y, w, h in pixels."""
    keypoints: np.ndarray
    bbox: np.ndarray
    area: float = 0.0
    iscrowd: bool = False
    id: int = -1
    # Raw COCO segmentation (polygons or RLE), kept so bottom-up datasets can mask crowd regions.
    segmentation: Any = None

    @property
    def num_keypoints(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())


@dataclass
class ImageRecord:
    image_id: int
    file_name: str  # absolute path to the image file
    width: int
    height: int
    persons: list[Person] = field(default_factory=list)


@dataclass
class PoseData:
    """A loaded annotation source: its records and the keypoint set they use."""
    records: list[ImageRecord]
    keypoint_set: KeypointSet
    source: str = ""

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_persons(self) -> int:
        return sum(len(r.persons) for r in self.records)
