"""SimCC: each keypoint coordinate as a classification over sub-pixel bins, one vector per axis.

Encoding (mmpose `SimCCLabel`, Gaussian smoothing): the keypoint is mapped to bin
round(coord * split_ratio) and given an unnormalised Gaussian label of sigma bins along each axis.
Decoding: per-axis argmax / split_ratio; the score is the smaller of the two raw maxima.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from posekit.codecs import register_codec


def simcc_sigma(input_size: tuple[int, int]) -> tuple[float, float]:
    """The published per-axis sigmas (bins) follow sigma = sqrt(size / 8):
    256x192 -> (4.9, 5.66), 384x288 -> (6.0, 6.93)."""
    return tuple(round(math.sqrt(size / 8.0), 2) for size in input_size)  # type: ignore[return-value]


def _as_numpy(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach().float().cpu().numpy()
    return np.asarray(array)


@register_codec("simcc")
class SimCCCodec:
    """A `codecs.base.TopDownCodec`: `output_size` is the bins per axis, which the model's SimCC head
    takes from here (the split ratio lives in the codec only)."""

    default_loss = "kl_discrete"

    def __init__(self, input_size: tuple[int, int], sigma: tuple[float, float] | None = None,
                 split_ratio: float = 2.0, normalize: bool = False):
        """input_size (w, h) in pixels; sigma (x, y) in bins, derived from input_size when None."""
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f"simcc codec: input_size must be two positive sizes (w, h), got {input_size!r}")
        if split_ratio <= 0:
            raise ValueError(f"simcc codec: split_ratio must be positive, got {split_ratio}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.sigma = tuple(float(s) for s in (sigma if sigma is not None else simcc_sigma(self.input_size)))
        if len(self.sigma) != 2 or min(self.sigma) <= 0:
            raise ValueError(f"simcc codec: sigma must be two positive numbers (x, y), got {sigma!r}")
        self.split_ratio = float(split_ratio)
        self.normalize = normalize
        # Number of bins per axis (the head's classifier widths).
        self.output_size = (int(round(self.input_size[0] * self.split_ratio)),
                            int(round(self.input_size[1] * self.split_ratio)))

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """keypoints (K, 2) input pixels, visible (K,) -> x labels (K, Wx), y labels (K, Wy), weights (K,).

        A keypoint whose 3-sigma window lies entirely outside the bins gets weight 0 (mmpose's rule).
        """
        keypoints = np.asarray(keypoints, dtype=np.float64)
        visible = np.asarray(visible, dtype=np.float32)
        if keypoints.ndim != 2 or keypoints.shape[1] != 2 or visible.shape != (keypoints.shape[0],):
            raise ValueError(f"simcc encode: expected keypoints (K, 2) and visible (K,), "
                             f"got {keypoints.shape} and {visible.shape}")
        num = keypoints.shape[0]
        wx, wy = self.output_size
        centres = np.around(keypoints * self.split_ratio)
        sx, sy = self.sigma
        outside = ((centres[:, 0] - 3 * sx >= wx) | (centres[:, 1] - 3 * sy >= wy)
                   | (centres[:, 0] + 3 * sx + 1 < 0) | (centres[:, 1] + 3 * sy + 1 < 0))
        weights = np.where((visible >= 0.5) & ~outside & np.isfinite(keypoints).all(1), visible, 0.0)
        x_labels = np.zeros((num, wx), dtype=np.float32)
        y_labels = np.zeros((num, wy), dtype=np.float32)
        on = weights > 0
        x_labels[on] = np.exp(-((np.arange(wx) - centres[on, :1]) ** 2) / (2 * sx ** 2))
        y_labels[on] = np.exp(-((np.arange(wy) - centres[on, 1:]) ** 2) / (2 * sy ** 2))
        if self.normalize:
            x_labels /= sx * math.sqrt(2 * math.pi)
            y_labels /= sy * math.sqrt(2 * math.pi)
        return {"keypoint_x_labels": x_labels, "keypoint_y_labels": y_labels,
                "keypoint_weights": weights.astype(np.float32)}

    def decode(self, outputs: tuple[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(x logits (B, K, Wx), y logits (B, K, Wy)) -> keypoints (B, K, 2) input pixels, scores (B, K).

        Unlike mmpose, keypoints with a non-positive score keep their argmax location (mmpose writes
        -1); the score already says how little to trust them.
        """
        simcc_x, simcc_y = (_as_numpy(o) for o in outputs)
        if simcc_x.ndim != 3 or simcc_y.ndim != 3 or simcc_x.shape[:2] != simcc_y.shape[:2]:
            raise ValueError(f"simcc decode: expected (B, K, Wx) and (B, K, Wy), got {simcc_x.shape} and {simcc_y.shape}")
        x = simcc_x.argmax(-1)
        y = simcc_y.argmax(-1)
        keypoints = np.stack([x, y], axis=-1).astype(np.float32) / self.split_ratio
        scores = np.minimum(simcc_x.max(-1), simcc_y.max(-1)).astype(np.float32)
        return keypoints, scores

    def flip_back(self, outputs: tuple[Any, Any], flip_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outputs for a horizontally mirrored input -> outputs in the original frame.

        Channels are permuted by the keypoint set's flip_index and the x vector mirrored. A mirror maps
        pixel x to w-1-x, i.e. bin i to Wx-split_ratio-i, so the x bins are reversed and then shifted by
        split_ratio-1 bins (exact for integer split ratios). (mmpose's `flip_vectors` only reverses, which lands half a pixel off at
        split ratio 2.) Bins that fall off the end repeat the edge bin.
        """
        simcc_x, simcc_y = (_as_numpy(o) for o in outputs)
        index = np.asarray(flip_index)
        mirrored = simcc_x[:, index, ::-1]
        shift = int(round(self.split_ratio)) - 1
        if shift:
            mirrored = np.concatenate([mirrored[..., shift:], np.repeat(mirrored[..., -1:], shift, -1)], -1)
        return np.ascontiguousarray(mirrored), simcc_y[:, index]

    def flip_average(self, outputs: tuple[Any, Any], flipped: tuple[Any, Any],
                     flip_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flip test: mean of the outputs and the flipped-back outputs of the mirrored input."""
        back_x, back_y = self.flip_back(flipped, flip_index)
        simcc_x, simcc_y = (_as_numpy(o) for o in outputs)
        return (simcc_x + back_x) / 2, (simcc_y + back_y) / 2
