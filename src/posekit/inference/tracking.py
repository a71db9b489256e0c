"""Person ids across video frames: match each frame's poses to the tracks of earlier frames.

Similarity is OKS (object keypoint similarity, COCO's formula with the keypoint set's sigmas) between a
pose and where its track is expected to be, or box IoU; pairs are matched one to one by the Hungarian
method and kept only above `threshold`. A track is expected where it was last seen plus its last
per-frame motion times the frames since: without that, two people crossing are equally close to both
tracks at the crossing and swap ids. A track unseen for more than `max_age` frames is dropped, so a
person hidden for a few frames keeps their id and a new person gets a fresh one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

# Used when a custom keypoint set defines no OKS sigmas: near the mean of COCO-17's.
FALLBACK_SIGMA = 0.07


@dataclass
class Track:
    """One person's id and last match; `velocity` is the box centre's motion, in pixels per frame."""

    id: int
    keypoints: np.ndarray          # (K, 3) last matched pose
    bbox: np.ndarray               # (4,) x, y, w, h last matched box
    velocity: np.ndarray           # (2,) pixels per frame, from the last two matches
    last_frame: int

    def expected(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 3) and box (4,) moved by velocity x frames since last seen (scores unchanged)."""
        shift = self.velocity * (frame - self.last_frame)
        keypoints = self.keypoints.copy()
        keypoints[:, :2] += shift
        return keypoints, self.bbox + np.array([shift[0], shift[1], 0.0, 0.0])


class PoseTracker:
    """Call once per frame, in order, with that frame's persons; returns their track ids.

    metric: "oks" (keypoints scoring above `keypoint_threshold` in both poses; box IoU for a pair with
    none in common) or "iou" (boxes only). threshold: the least similarity that continues a track.
    max_age: frames a track may go unseen and still be continued.
    """

    def __init__(self, sigmas: Sequence[float] | None = None, metric: str = "oks", threshold: float = 0.3,
                 max_age: int = 5, keypoint_threshold: float = 0.3):
        if metric not in ("oks", "iou"):
            raise ValueError(f"tracking metric must be 'oks' or 'iou', got '{metric}'")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"tracking threshold must be in [0, 1], got {threshold}")
        if max_age < 0:
            raise ValueError(f"tracking max_age must be >= 0, got {max_age}")
        self.sigmas = None if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        self.metric = metric
        self.threshold = threshold
        self.max_age = max_age
        self.keypoint_threshold = keypoint_threshold
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frame = -1

    def update(self, persons: Sequence[dict[str, Any]]) -> list[int]:
        """Track ids for this frame's persons (dicts with "keypoints" (K, 3) and "bbox" x, y, w, h)."""
        self.frame += 1
        self.tracks = [t for t in self.tracks if self.frame - t.last_frame <= self.max_age + 1]
        poses = [np.asarray(p["keypoints"], dtype=np.float64).reshape(-1, 3) for p in persons]
        boxes = [np.asarray(p["bbox"], dtype=np.float64)[:4] for p in persons]
        similarity = np.zeros((len(self.tracks), len(persons)))
        for i, track in enumerate(self.tracks):
            keypoints, box = track.expected(self.frame)
            for j in range(len(persons)):
                similarity[i, j] = self.similarity(keypoints, box, poses[j], boxes[j])
        ids = [-1] * len(persons)
        if similarity.size:
            rows, cols = linear_sum_assignment(similarity, maximize=True)
            for i, j in zip(rows, cols):
                if similarity[i, j] >= self.threshold:
                    ids[j] = self.tracks[i].id
                    self._continue(self.tracks[i], poses[j], boxes[j])
        for j, track_id in enumerate(ids):
            if track_id < 0:
                ids[j] = self.next_id
                self.tracks.append(Track(self.next_id, poses[j], boxes[j], np.zeros(2), self.frame))
                self.next_id += 1
        return ids

    def _continue(self, track: Track, keypoints: np.ndarray, box: np.ndarray) -> None:
        # Motion of the box centre: steadier than any one keypoint, defined when keypoints are not.
        centre_shift = (box[:2] + box[2:] / 2) - (track.bbox[:2] + track.bbox[2:] / 2)
        track.velocity = centre_shift / (self.frame - track.last_frame)
        track.keypoints, track.bbox, track.last_frame = keypoints, box, self.frame

    def similarity(self, track_keypoints: np.ndarray, track_box: np.ndarray, keypoints: np.ndarray,
                   box: np.ndarray) -> float:
        """OKS over the keypoints confident in both poses (area of the track's box), or box IoU when
        the metric is 'iou' or no keypoint is confident in both; in [0, 1]."""
        if self.metric == "oks":
            both = (track_keypoints[:, 2] > self.keypoint_threshold) & (keypoints[:, 2] > self.keypoint_threshold)
            if both.any():
                return oks(track_keypoints, keypoints, track_box, self.sigmas, both)
        return box_iou(track_box, box)


def oks(reference: np.ndarray, keypoints: np.ndarray, reference_box: np.ndarray, sigmas: np.ndarray | None,
        mask: np.ndarray) -> float:
    """COCO's object keypoint similarity over the keypoints in `mask`, scaled by the reference box area."""
    sigmas = np.full(len(reference), FALLBACK_SIGMA) if sigmas is None else sigmas
    area = max(float(reference_box[2] * reference_box[3]), 1.0)
    squared = ((reference[:, :2] - keypoints[:, :2]) ** 2).sum(axis=1)
    per_keypoint = np.exp(-squared / (2.0 * area * (2.0 * sigmas) ** 2))
    return float(per_keypoint[mask].mean())


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x, y, w, h boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(width, 0.0) * max(height, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0
