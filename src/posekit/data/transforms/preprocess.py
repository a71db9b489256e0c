"""How an image becomes a network input, and how the network's poses go back to the image: the one
place that training data, `posekit eval`, `posekit predict`, the codec check and posekit.runtime share,
so that what a network was trained and evaluated on is what it is fed in use.

- top-down: person box (x, y, w, h) -> centre/scale (padded by bbox_padding, grown to the input's
  aspect ratio) -> affine warp -> crop of the input size;
- bottom-up: the published test-time resize of the whole image (HigherHRNet: short side to the input
  size, long side to the next multiple of 64);
- ImageNet normalisation, and the way back: network-input pixels -> image pixels -> COCO result rows.

numpy and OpenCV only: posekit.runtime imports this without torch. Coordinates and warps follow
docs/developer.md ("Coordinates"): a 2x3 `warp` maps original-image (x, y) to network-input (x, y).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from posekit.data.transforms.geometry import bbox_xywh_to_center_scale, get_warp_matrix

# The top-down box padding of the published recipes (mmpose's GetBBoxCenterScale, SimpleBaseline);
# config.AugmentConfig.bbox_padding defaults to it (config sits below data, tests/test_preprocess.py
# checks they agree).
BBOX_PADDING = 1.25
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0
_MEAN_CHW = IMAGENET_MEAN[:, None, None]
_INV_STD_CHW = (1.0 / IMAGENET_STD)[:, None, None]
# The published resize rounds the long side up to this multiple (the network's largest stride).
_RESIZE_MULTIPLE = 64


def short_side_resize(width: int, height: int, input_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """HigherHRNet's test-time resize: short side -> input_size, long side -> the next multiple of 64
    at the same scale, image centred. Returns the 2x3 warp original->input and the (w, h) size."""
    scale = input_size / min(width, height)
    long_side = int(np.ceil(max(width, height) * scale / _RESIZE_MULTIPLE) * _RESIZE_MULTIPLE)
    size = (input_size, long_side) if width <= height else (long_side, input_size)
    warp = np.array([[scale, 0.0, size[0] / 2 - scale * width / 2],
                     [0.0, scale, size[1] / 2 - scale * height / 2]])
    return warp, size


# Bottom-up resize modes: name -> (width, height, input side) -> (warp, (w, h)).
RESIZES: dict[str, Callable[[int, int, int], tuple[np.ndarray, tuple[int, int]]]] = {
    "short_side": short_side_resize,
}


@dataclass(frozen=True)
class Preprocess:
    """What a network's input is made with; an estimator carries one (`estimator.preprocess`), as
    torchvision's weights carry their transforms, so that predicting never restates it.

    input_size (w, h): the top-down crop size, or the bottom-up input side (input_size[0]) that the
    test resize fits the short side to. bbox_padding: top-down box side factor for person boxes (a
    detector's, given ones), the factor the network was trained with. whole_image_padding: the factor
    when the whole image stands in for the box (no detector, no boxes), a different framing with its
    own best value; None: bbox_padding. resize: the bottom-up test resize (a RESIZES name)."""
    input_size: tuple[int, int]
    bbox_padding: float = BBOX_PADDING
    resize: str = "short_side"
    whole_image_padding: float | None = None

    def __post_init__(self) -> None:
        size = tuple(int(s) for s in self.input_size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"Preprocess: input_size must be two positive sizes (w, h), got {self.input_size}")
        for name in ("bbox_padding", "whole_image_padding"):
            value = getattr(self, name)
            if value is None and name == "whole_image_padding":
                continue
            if not isinstance(value, (int, float)) or not float(value) > 0:
                raise ValueError(f"Preprocess: {name} must be a positive number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.resize not in RESIZES:
            raise ValueError(f"Preprocess: unknown resize '{self.resize}'; known: {', '.join(RESIZES)}")
        object.__setattr__(self, "input_size", size)

    def padding_for(self, whole_image: bool = False) -> float:
        """The box's side factor: whole_image_padding for the whole image (when set), else bbox_padding."""
        return self.whole_image_padding if whole_image and self.whole_image_padding else self.bbox_padding

    def center_scale(self, box: Sequence[float], whole_image: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The crop region of a person box: centre (2,) and scale (w, h) (2,) in image pixels.
        whole_image: the box is the whole image, padded by whole_image_padding."""
        return bbox_xywh_to_center_scale(box, self.input_size[0] / self.input_size[1], self.padding_for(whole_image))

    def crop_warp(self, box: Sequence[float], whole_image: bool = False) -> np.ndarray:
        """The 2x3 warp taking a person box's padded region to the input crop."""
        center, scale = self.center_scale(box, whole_image)
        return get_warp_matrix(center, scale, 0.0, self.input_size)

    def crop(self, image: np.ndarray, box: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """The input crop of one person box, and its warp."""
        warp = self.crop_warp(box)
        return warp_image(image, warp, self.input_size), warp

    def resize_warp(self, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The bottom-up test resize of a width x height image: warp and input (w, h)."""
        return RESIZES[self.resize](int(width), int(height), self.input_size[0])

    def resize_image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The whole image resized for a bottom-up network, and its warp."""
        warp, size = self.resize_warp(image.shape[1], image.shape[0])
        return warp_image(image, warp, size), warp


def person_boxes(boxes: Any, what: str = "boxes") -> np.ndarray:
    """Person boxes as both predictors take them: (N, 5) float64 x, y, w, h, score, from (N, 4),
    (N, 5) or one box of 4 or 5 numbers (score 1 where none is given); anything empty gives (0, 5), no
    person. ValueError naming `what` (and the row) for another shape, a value that is not finite or a
    box without area: a crop of such a box holds no person, and it would fail deep in the warp."""
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: person boxes must be numbers, (N, 4) x, y, w, h or (N, 5) with a score") from None
    if array.size == 0:
        return np.zeros((0, 5))
    if array.ndim == 1 and array.size in (4, 5):
        array = array[None]
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise ValueError(f"{what}: person boxes are (N, 4) x, y, w, h or (N, 5) with a score; got shape {array.shape}")
    for i, box in enumerate(array):
        if not np.isfinite(box).all():
            raise ValueError(f"{what}[{i}]: not a finite box: {box.tolist()}")
        if box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"{what}[{i}]: width and height must be positive, got {box[2]:g} x {box[3]:g}")
    return array if array.shape[1] == 5 else np.column_stack([array, np.ones(len(array))])


def boxes_per_image(boxes: Any, count: int) -> list[Any]:
    """The `boxes` argument of a predictor called on `count` images, one entry per image: a list or
    tuple of `count` sets, each 2-D ((N, 4/5), or empty as np.zeros((0, 4))), is one set per image;
    anything else (None, one set) is the same for every image."""
    if isinstance(boxes, (list, tuple)) and len(boxes) == count and count and all(_is_2d(b) for b in boxes):
        return list(boxes)
    return [boxes] * count


def _is_2d(value: Any) -> bool:
    try:
        return np.ndim(value) == 2
    except ValueError:  # a ragged nest of lists: not one set of boxes (person_boxes says why)
        return False


def warp_image(image: np.ndarray, warp: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """cv2.warpAffine to (w, h), bilinear, zero outside the image (every posekit input is made so)."""
    return cv2.warpAffine(image, warp, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)


def normalize(images: np.ndarray, rgb: bool = True) -> np.ndarray:
    """uint8 (H, W, 3), or a batch (N, H, W, 3), -> float32 (3, H, W) or (N, 3, H, W) in RGB order,
    normalised by ImageNet mean/std; rgb=False takes BGR (OpenCV's order)."""
    if not rgb:
        images = images[..., ::-1]
    # Transposing the uint8 image before the float maths is ~8x faster than the other way round.
    out = np.ascontiguousarray(np.moveaxis(images, -1, -3)).astype(np.float32)
    out -= _MEAN_CHW
    out *= _INV_STD_CHW
    return out


def crop_batch(image: np.ndarray, warps: np.ndarray, input_size: Sequence[int], rgb: bool = True) -> np.ndarray:
    """Normalised float32 crops (N, 3, h, w), RGB, of an H x W x 3 uint8 image (BGR unless rgb), one
    per warp: each crop is warp_image's, warped into one preallocated array."""
    w, h = int(input_size[0]), int(input_size[1])
    crops = np.empty((len(warps), h, w, 3), dtype=np.uint8)
    for i, warp in enumerate(warps):
        cv2.warpAffine(image, warp, (w, h), dst=crops[i], flags=cv2.INTER_LINEAR)
    return normalize(crops, rgb)


def to_image(points: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Network-input pixels -> original-image pixels through the inverse of `warp`.

    points (..., 2) or (..., 2 + extra): columns past x, y (keypoint scores) are kept. warp: one
    (2, 3) for all points, or (N, 2, 3) with one warp per leading row of points (N, ..., 2+)."""
    points = np.asarray(points, dtype=np.float64)
    warp = np.asarray(warp, dtype=np.float64)
    linear = np.linalg.inv(warp[..., :2])                        # (..., 2, 2)
    shift = -(linear @ warp[..., 2:])[..., 0]                    # (..., 2)
    middle = (1,) * (points.ndim - 1 - (warp.ndim - 2))          # point axes between batch and (x, y)
    linear = linear.reshape(warp.shape[:-2] + middle + (2, 2))
    shift = shift.reshape(warp.shape[:-2] + middle + (2,))
    xy = (linear @ points[..., :2, None])[..., 0] + shift
    return np.concatenate([xy, points[..., 2:]], axis=-1)


def coco_results(predictions: Sequence[dict[str, Any]], category_id: int = 1,
                 rounded: bool = False) -> list[dict[str, Any]]:
    """Predictions ({"image_id", "keypoints" (K, 3) in image pixels, "score", "category_id"?,
    "file_name"?}) as COCO result rows. A prediction's own category_id wins over `category_id`; its
    file_name (posekit predict) is kept so rows are read without an id map. rounded: keypoints to 3
    decimals and scores to 5, for files (far below any metric's resolution)."""
    rows = []
    for p in predictions:
        keypoints = np.asarray(p["keypoints"], dtype=np.float64).reshape(-1)
        score = float(p["score"])
        if rounded:
            keypoints, score = keypoints.round(3), round(score, 5)
        rows.append({"image_id": int(p["image_id"]), **({"file_name": p["file_name"]} if "file_name" in p else {}),
                     "category_id": int(p.get("category_id", category_id)),
                     "keypoints": keypoints.tolist(), "score": score})
    return rows
