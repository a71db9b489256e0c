"""Run a trained estimator on images: person boxes (given, detected, or the whole image) ->
crops -> poses in original-image pixels."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from posekit.data.datasets import normalize_image
from posekit.data.transforms.geometry import bbox_xywh_to_center_scale, get_warp_matrix, refine_box
from posekit.estimators.base import Estimator


class Predictor:
    """refine: with no detector and no boxes (the whole image is the box), look again at a crop around
    the first pass's keypoints and keep the second pass when its pose score is at least the first's.
    A small person in a large photo then gets the input resolution a detector's box would give it."""

    def __init__(self, estimator: Estimator, paradigm: str, input_size: Sequence[int], detector: Any = None,
                 device: str | torch.device = "cpu", flip_test: bool = True, padding: float = 1.25,
                 batch_size: int = 16, refine: bool = False):
        self.estimator = estimator.to(device).eval()
        self.paradigm = paradigm
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.detector = detector
        self.device = torch.device(device)
        self.flip_test = flip_test
        self.padding = padding
        self.batch_size = batch_size
        self.refine = refine

    def boxes_for(self, image: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        """(N, 5) x, y, w, h, score: the given boxes, else the detector's, else the whole image."""
        if boxes is not None and len(boxes):
            boxes = np.asarray(boxes, dtype=np.float64)
            return boxes if boxes.shape[1] == 5 else np.column_stack([boxes[:, :4], np.ones(len(boxes))])
        if self.detector is not None:
            return self.detector(image).astype(np.float64)
        h, w = image.shape[:2]
        return np.array([[0.0, 0.0, w, h, 1.0]])

    @torch.no_grad()
    def __call__(self, image: np.ndarray, image_id: int = 0, boxes: np.ndarray | None = None) -> list[dict[str, Any]]:
        if self.paradigm == "bottomup":
            return self._bottomup(image, image_id)
        whole_image = (boxes is None or not len(boxes)) and self.detector is None
        results = self._topdown(image, image_id, self.boxes_for(image, boxes))
        if self.refine and whole_image and results:
            box = refine_box(np.asarray(results[0]["keypoints"]), image.shape[1], image.shape[0])
            if box is not None:
                second = self._topdown(image, image_id, np.append(box, 1.0)[None])
                if second[0]["score"] >= results[0]["score"]:
                    results = second
        return results

    def _topdown(self, image: np.ndarray, image_id: int, boxes: np.ndarray) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(boxes), self.batch_size):
            chunk = boxes[start:start + self.batch_size]
            crops, warps = [], []
            for box in chunk:
                center, scale = bbox_xywh_to_center_scale(box[:4], self.input_size[0] / self.input_size[1], self.padding)
                warp = get_warp_matrix(center, scale, 0.0, self.input_size)
                crops.append(normalize_image(_warp(image, warp, self.input_size)))
                warps.append(warp)
            batch = {"image": torch.stack(crops).to(self.device), "warp": np.stack(warps),
                     "image_id": np.full(len(chunk), image_id), "bbox_score": chunk[:, 4]}
            for per_crop, box in zip(self.estimator.predict(batch, flip_test=self.flip_test), chunk):
                for pose in per_crop:
                    pose["bbox"] = box[:4].tolist()
                    results.append(pose)
        return results

    def _bottomup(self, image: np.ndarray, image_id: int) -> list[dict[str, Any]]:
        from posekit.estimators.bottomup import test_resize_warp
        h, w = image.shape[:2]
        warp, size = test_resize_warp(w, h, self.input_size[0])
        batch = {"image": normalize_image(_warp(image, warp, size))[None].to(self.device),
                 "warp": warp[None], "image_id": np.array([image_id])}
        return self.estimator.predict(batch, flip_test=self.flip_test)[0]


def _warp(image: np.ndarray, warp: np.ndarray, size: Sequence[int]) -> np.ndarray:
    import cv2
    return cv2.warpAffine(image, warp, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)
