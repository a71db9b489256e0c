"""Run a trained estimator on images: person boxes (given, detected, or the whole image) ->
crops -> poses in original-image pixels. The crops and the bottom-up resize are the estimator's own
preprocessing (posekit.data.transforms.preprocess), the one that `posekit eval` validates with."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import torch

from posekit.data.transforms.geometry import keep_second, refine_box
from posekit.data.transforms.preprocess import Preprocess, crop_batch, normalize, person_boxes
from posekit.estimators.base import Estimator


class Predictor:
    """Input size and box padding come from `estimator.preprocess`; `input_size` and `padding`, when
    given, override them (an estimator without a preprocess needs input_size).

    The whole image, when it is the box (no detector, no boxes), is padded by the preprocess's
    whole_image_padding; person boxes by its bbox_padding, the training crops' factor.
    refine: with the whole image as the box, look again at a crop around the first pass's keypoints:
    their box (geometry.refine_box) enlarged `refine` times, then padded as a person box; the second
    look is kept unless it found nothing. 0 (or False) is off; True, as older model files say, is 1.0.
    A person who fills part of the photo then gets the input resolution a detector's box would give.
    refine_looks: how many such looks, each around the last kept look's keypoints (a third look added
    0.009 on LSPET 7,001-8,000 for the stage-11 default model: benchmarks/refine_lsp.py)."""

    def __init__(self, estimator: Estimator, paradigm: str, input_size: Sequence[int] | None = None,
                 detector: Any = None, device: str | torch.device = "cpu", flip_test: bool = True,
                 padding: float | None = None, batch_size: int = 16, refine: float = 0.0, refine_looks: int = 1):
        self.estimator = estimator.to(device).eval()
        self.paradigm = paradigm
        self.preprocess = predictor_preprocess(estimator, input_size, padding)
        self.detector = detector
        self.device = torch.device(device)
        self.flip_test = flip_test
        self.batch_size = batch_size
        self.refine = float(refine)
        self.refine_looks = max(1, int(refine_looks))

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (w, h) in pixels."""
        return self.preprocess.input_size

    @property
    def padding(self) -> float:
        """Factor each person box is enlarged by before cropping (top-down)."""
        return self.preprocess.bbox_padding

    def boxes_for(self, image: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
        """(N, 5) x, y, w, h, score: the given boxes (empty: nobody), else the detector's, else the
        whole image."""
        if boxes is not None:
            return person_boxes(boxes)
        if self.detector is not None:
            return person_boxes(self.detector(image), "detector output")
        h, w = image.shape[:2]
        return np.array([[0.0, 0.0, w, h, 1.0]])

    @torch.no_grad()
    def __call__(self, image: np.ndarray, image_id: int = 0, boxes: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Poses in an RGB (H, W, 3) uint8 image: dicts of image_id, keypoints (K, 3) x, y, score in
        image pixels, score, and (top-down) bbox [x, y, w, h]. `boxes`: (N, 4 or 5), empty for nobody;
        None (not given) for the detector's or the whole image; bottom-up ignores them."""
        if self.paradigm == "bottomup":
            return self._bottomup(image, image_id)
        whole_image = boxes is None and self.detector is None
        results = self._topdown(image, image_id, self.boxes_for(image, boxes), whole_image)
        return self.closer_looks(image, image_id, results) if whole_image else results

    def closer_looks(self, image: np.ndarray, image_id: int, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The refine step after a first look's `results` (one person): up to `refine_looks` looks, each
        at a crop around the last kept look's keypoints; none when refine is off."""
        for _ in range(self.refine_looks if self.refine and results else 0):
            box = refine_box(np.asarray(results[0]["keypoints"]), image.shape[1], image.shape[0],
                             padding=self.refine)
            if box is None:
                break
            closer = self._topdown(image, image_id, np.append(box, 1.0)[None])
            if not keep_second(closer[0]["score"]):
                break
            results = closer
        return results

    def _topdown(self, image: np.ndarray, image_id: int, boxes: np.ndarray,
                 whole_image: bool = False) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(boxes), self.batch_size):
            chunk = boxes[start:start + self.batch_size]
            warps = np.stack([self.preprocess.crop_warp(box[:4], whole_image) for box in chunk])
            batch = {"image": torch.from_numpy(crop_batch(image, warps, self.input_size)).to(self.device),
                     "warp": warps, "image_id": np.full(len(chunk), image_id), "bbox_score": chunk[:, 4]}
            for per_crop, box in zip(self.estimator.predict(batch, flip_test=self.flip_test), chunk):
                for pose in per_crop:
                    pose["bbox"] = box[:4].tolist()
                    results.append(pose)
        return results

    def _bottomup(self, image: np.ndarray, image_id: int) -> list[dict[str, Any]]:
        resized, warp = self.preprocess.resize_image(image)
        batch = {"image": torch.from_numpy(normalize(resized))[None].to(self.device),
                 "warp": warp[None], "image_id": np.array([image_id])}
        return self.estimator.predict(batch, flip_test=self.flip_test)[0]


def predictor_preprocess(estimator: Any, input_size: Sequence[int] | None = None,
                         padding: float | None = None) -> Preprocess:
    """The estimator's preprocessing with the given overrides."""
    base = getattr(estimator, "preprocess", None)
    if base is None:
        if input_size is None:
            raise ValueError(f"{type(estimator).__name__} carries no preprocess: pass input_size")
        base = Preprocess(input_size)
    overrides = {"input_size": input_size, "bbox_padding": padding}
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
