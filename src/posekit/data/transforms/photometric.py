"""Photometric transforms on RGB uint8 crops, as in the RTMPose training pipeline: YOLOX-style HSV
jitter, Gaussian/median blur, CoarseDropout. Each takes the sample's numpy Generator."""
from __future__ import annotations

import cv2
import numpy as np

# YOLOX's YOLOXHSVRandomAug defaults (hue in OpenCV's 0..179 units).
HUE_DELTA, SATURATION_DELTA, VALUE_DELTA = 5, 30, 30


def hsv_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift hue/saturation/value by integer offsets drawn in +-delta, each channel switched on with
    probability 0.5 (YOLOX)."""
    gains = rng.uniform(-1, 1, 3) * (HUE_DELTA, SATURATION_DELTA, VALUE_DELTA)
    gains = (gains * rng.integers(0, 2, 3)).astype(np.int16)
    if not gains.any():
        return image
    # One lookup table per channel (hue wraps at 180, saturation and value clip), applied by cv2.LUT.
    values = np.arange(256, dtype=np.int16)
    table = np.stack([(values + gains[0]) % 180, np.clip(values + gains[1], 0, 255),
                      np.clip(values + gains[2], 0, 255)], axis=-1).astype(np.uint8)[None]
    hsv = cv2.LUT(cv2.cvtColor(image, cv2.COLOR_RGB2HSV), table)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

def random_blur(image: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    """Box blur then median blur, each with probability `prob` and an odd kernel of 3..7 pixels
    (albumentations' Blur and MedianBlur defaults, p = 0.1 each in RTMPose)."""
    if rng.random() < prob:
        k = int(rng.choice((3, 5, 7)))
        image = cv2.blur(image, (k, k))
    if rng.random() < prob:
        k = int(rng.choice((3, 5, 7)))
        image = cv2.medianBlur(image, k)
    return image


def coarse_dropout(image: np.ndarray, rng: np.random.Generator, min_frac: float = 0.2,
                   max_frac: float = 0.4) -> np.ndarray:
    """Zero one rectangular hole whose sides are min_frac..max_frac of the crop's sides (RTMPose's
    CoarseDropout: 1 hole, 0.2-0.4, fill 0). Keypoint labels are left as they are."""
    h, w = image.shape[:2]
    hole_h = max(1, int(h * rng.uniform(min_frac, max_frac)))
    hole_w = max(1, int(w * rng.uniform(min_frac, max_frac)))
    y0 = int(rng.integers(0, h - hole_h + 1))
    x0 = int(rng.integers(0, w - hole_w + 1))
    out = image.copy()
    out[y0:y0 + hole_h, x0:x0 + hole_w] = 0
    return out


def photometric(image: np.ndarray, rng: np.random.Generator, hsv: bool, blur: float,
                dropout: float) -> np.ndarray:
    """The photometric part of an AugmentConfig, in RTMPose's order (HSV, blur, dropout)."""
    if hsv:
        image = hsv_jitter(image, rng)
    if blur > 0:
        image = random_blur(image, rng, blur)
    if dropout > 0 and rng.random() < dropout:
        image = coarse_dropout(image, rng)
    return image
