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
        """How many keypoints are labelled (v > 0), occluded ones included."""
        return int((self.keypoints[:, 2] > 0).sum())


@dataclass
class ImageRecord:
    """One image (size in pixels) and the persons annotated in it; empty for unlabeled images."""

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
        """Persons over all records, crowd regions and persons without keypoints included."""
        return sum(len(r.persons) for r in self.records)


class Persons(list):
    """A model's result for one image: a list of person dicts ({"keypoints": (K, 3) x, y, score in image
    pixels, "bbox": (x, y, w, h), "score"}) that also knows its keypoint set (names, skeleton) and the
    score above which its keypoints are drawn, so `posekit.draw(image, persons)` needs nothing else.
    Returned alike by `posekit.load()`'s models and by `posekit.runtime`."""

    def __init__(self, persons: Any = (), keypoint_set: KeypointSet | None = None, keypoint_threshold: float = 0.3):
        super().__init__(persons)
        self.keypoint_set = keypoint_set
        self.keypoint_threshold = keypoint_threshold
