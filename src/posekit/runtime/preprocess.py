"""Person boxes -> network input crops with numpy and OpenCV, value for value what the torch Predictor
feeds its model (box -> centre/scale -> affine warp -> cv2.warpAffine -> ImageNet normalisation)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from posekit.data.transforms.geometry import bbox_xywh_to_center_scale, get_warp_matrix, invert_affine

# posekit.data.datasets.common's statistics (RGB order); that module imports torch, so they are
# repeated here, and tests/test_runtime.py checks the crops against it.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0
_MEAN = IMAGENET_MEAN[:, None, None]
_INV_STD = (1.0 / IMAGENET_STD)[:, None, None]


def crop_warps(boxes: np.ndarray, input_size: Sequence[int], padding: float) -> np.ndarray:
    """(N, 2, 3) affines taking each padded, aspect-fixed box (x, y, w, h, ...) to the input crop."""
    aspect = input_size[0] / input_size[1]
    warps = np.empty((len(boxes), 2, 3))
    for i, box in enumerate(boxes):
        center, scale = bbox_xywh_to_center_scale(box[:4], aspect, padding)
        warps[i] = get_warp_matrix(center, scale, 0.0, input_size)
    return warps


def crop_batch(image: np.ndarray, warps: np.ndarray, input_size: Sequence[int], rgb: bool) -> np.ndarray:
    """Normalised float32 crops (N, 3, h, w) in RGB order from an H x W x 3 uint8 image (BGR unless rgb).

    Same float32 operations as normalize_image (subtract the mean, multiply by 1/std), so the crops
    are bit-identical to the torch path's."""
    w, h = int(input_size[0]), int(input_size[1])
    crops = np.empty((len(warps), h, w, 3), dtype=np.uint8)
    for i, warp in enumerate(warps):
        cv2.warpAffine(image, warp, (w, h), dst=crops[i], flags=cv2.INTER_LINEAR)
    batch = np.empty((len(warps), 3, h, w), dtype=np.float32)
    batch[:] = (crops if rgb else crops[..., ::-1]).transpose(0, 3, 1, 2)
    batch -= _MEAN
    batch *= _INV_STD
    return batch


def to_image(points: np.ndarray, warps: np.ndarray) -> np.ndarray:
    """Map (N, K, 2) crop-pixel points back to the image through the inverse of each crop's warp."""
    inverse = np.stack([invert_affine(warp) for warp in warps])
    return np.einsum("nkj,nij->nki", points.astype(np.float64), inverse[:, :, :2]) + inverse[:, None, :, 2]
