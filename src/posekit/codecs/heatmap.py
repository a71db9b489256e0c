"""Top-down Gaussian heatmap codec: MSRA (SimpleBaseline) and UDP encodings, argmax decoding with
shift or DARK refinement, and the flip-test helpers that go with each encoding.

MSRA maps input pixels to heatmap pixels by dividing by input/heatmap and draws the Gaussian at the
rounded location; UDP (Huang et al. 2020) uses (input-1)/(heatmap-1), so that the first and last
pixel centres of both grids coincide, and draws the Gaussian at the exact sub-pixel location.
"""
from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np
import torch

from posekit.codecs import register_codec
from posekit.codecs.refine import heatmap_maximum, refine_dark, refine_shift

MODES = ("msra", "udp")
REFINEMENTS = ("dark", "shift", "none")

Maps = TypeVar("Maps", np.ndarray, torch.Tensor)


def flip_heatmaps(heatmaps: Maps, flip_index: Sequence[int] | np.ndarray, shift: bool) -> Maps:
    """Heatmaps predicted on a mirrored input, brought back to the original image's frame.

    heatmaps: (..., K, h, w) numpy or torch. Mirrors the width axis and permutes channels so that
    channel k holds keypoint k (flip_index as `KeypointSet.flip_index`). `shift=True` moves the
    result one pixel right, as SimpleBaseline does for MSRA maps, whose mirror is off by
    1 - heatmap/input pixels; UDP maps mirror exactly and take `shift=False`.
    """
    index = np.asarray(flip_index, dtype=np.int64)
    if heatmaps.ndim < 3 or index.shape != (heatmaps.shape[-3],):
        raise ValueError(f"flip_heatmaps: flip_index of shape {index.shape} does not match "
                         f"heatmaps of shape {tuple(heatmaps.shape)} (channels on axis -3)")
    if isinstance(heatmaps, torch.Tensor):
        flipped = heatmaps.flip(-1)[..., torch.from_numpy(index).to(heatmaps.device), :, :]
        if shift:
            flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=-1)
        return flipped
    flipped = heatmaps[..., ::-1][..., index, :, :]
    if shift:
        flipped = np.concatenate([flipped[..., :1], flipped[..., :-1]], axis=-1)
    return np.ascontiguousarray(flipped)


@register_codec("heatmap")
class HeatmapCodec:
    """Keypoints (K, 2) in input pixels <-> Gaussian heatmaps (K, h, w). Sizes are (width, height).
    A `codecs.base.TopDownCodec`; `output_stride` gives the heatmap size as input size / stride
    where `heatmap_size` is not given."""

    default_loss = "joints_mse"

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int] | None = None, sigma: float = 2.0,
                 mode: str = "udp", refine: str = "dark", blur_kernel: int = 11,
                 output_stride: int | None = None) -> None:
        if heatmap_size is None:
            if not output_stride or output_stride <= 0:
                raise ValueError("heatmap codec: give heatmap_size (width, height) or a positive output_stride")
            heatmap_size = (int(input_size[0]) // output_stride, int(input_size[1]) // output_stride)
        if mode not in MODES:
            raise ValueError(f"heatmap codec: mode must be one of {MODES}, got '{mode}'")
        if refine not in REFINEMENTS:
            raise ValueError(f"heatmap codec: refine must be one of {REFINEMENTS}, got '{refine}'")
        if len(input_size) != 2 or len(heatmap_size) != 2 or min(*input_size, *heatmap_size) < 2:
            raise ValueError(f"heatmap codec: input_size {input_size} and heatmap_size "
                             f"{heatmap_size} must be (width, height) of at least 2 pixels")
        if sigma <= 0:
            raise ValueError(f"heatmap codec: sigma must be positive, got {sigma}")
        if blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ValueError(f"heatmap codec: blur_kernel must be a positive odd integer, "
                             f"got {blur_kernel}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.mode = mode
        self.refine = refine
        self.blur_kernel = int(blur_kernel)
        inp = np.asarray(self.input_size, dtype=np.float64)
        out = np.asarray(self.heatmap_size, dtype=np.float64)
        # Input pixels per heatmap pixel, (x, y).
        self.stride = (inp - 1) / (out - 1) if mode == "udp" else inp / out
        # The 3-sigma window of MSRA/UDP, in whole pixels on each side of the rounded centre.
        self.radius = int(3 * self.sigma)

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """keypoints (K, 2) input pixels, visible (K,) -> heatmaps (K, h, w), keypoint_weights (K,).

        A keypoint gets weight 0 and an empty map when it is not visible or when its 3-sigma window
        lies wholly outside the heatmap; a keypoint just outside the input keeps its partial
        Gaussian and weight 1, as in the original encodings.
        """
        keypoints = np.asarray(keypoints, dtype=np.float64)
        visible = np.asarray(visible, dtype=np.float64)
        if keypoints.ndim != 2 or keypoints.shape[1] != 2 or visible.shape != keypoints.shape[:1]:
            raise ValueError(f"heatmap codec encode: expected keypoints (K, 2) and visible (K,), "
                             f"got {keypoints.shape} and {visible.shape}")
        w, h = self.heatmap_size
        scaled = keypoints / self.stride
        centre_px = np.floor(scaled + 0.5)  # nearest heatmap pixel
        centre = centre_px if self.mode == "msra" else scaled
        r = self.radius
        overlaps = ((centre_px[:, 0] + r >= 0) & (centre_px[:, 0] - r <= w - 1)
                    & (centre_px[:, 1] + r >= 0) & (centre_px[:, 1] - r <= h - 1))
        weights = (visible >= 0.5) & overlaps & np.isfinite(scaled).all(axis=1)

        # The 2-D Gaussian is separable: build each axis and take the outer product.
        xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
        gx = np.exp(-((xs[None] - centre[:, :1]) ** 2) / (2 * self.sigma ** 2))
        gy = np.exp(-((ys[None] - centre[:, 1:]) ** 2) / (2 * self.sigma ** 2))
        gx *= np.abs(xs[None] - centre_px[:, :1]) <= r
        gy *= np.abs(ys[None] - centre_px[:, 1:]) <= r
        heatmaps = gy[:, :, None] * gx[:, None, :] * weights[:, None, None]
        return {"heatmaps": heatmaps.astype(np.float32),
                "keypoint_weights": weights.astype(np.float32)}

    def decode(self, heatmaps: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """heatmaps (B, K, h, w) numpy or torch -> keypoints (B, K, 2) input pixels, scores (B, K).

        Scores are the maxima of the unrefined maps.
        """
        if isinstance(heatmaps, torch.Tensor):
            heatmaps = heatmaps.detach().float().cpu().numpy()
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        w, h = self.heatmap_size
        if heatmaps.ndim != 4 or heatmaps.shape[2:] != (h, w):
            raise ValueError(f"heatmap codec decode: expected heatmaps (B, K, {h}, {w}), "
                             f"got {heatmaps.shape}")
        b, k = heatmaps.shape[:2]
        maps = heatmaps.reshape(b * k, h, w)
        locations, scores = heatmap_maximum(maps)
        if self.refine == "shift":
            locations = refine_shift(locations, maps)
        elif self.refine == "dark":
            locations = refine_dark(locations, maps, self.blur_kernel)
        keypoints = locations * self.stride
        return keypoints.reshape(b, k, 2).astype(np.float32), scores.reshape(b, k)

    @property
    def output_size(self) -> tuple[int, int]:
        """The heatmap (w, h), as the TopDownCodec contract names it."""
        return self.heatmap_size

    def flip_heatmaps(self, heatmaps: Maps, flip_index: Sequence[int] | np.ndarray) -> Maps:
        """`flip_heatmaps` with the shift this codec's encoding needs (MSRA yes, UDP no)."""
        return flip_heatmaps(heatmaps, flip_index, shift=self.mode == "msra")

    def flip_average(self, heatmaps: Maps, heatmaps_of_flipped_input: Maps,
                     flip_index: Sequence[int] | np.ndarray) -> Maps:
        """Flip-test average of the maps of an input and of its mirror, in the input's frame."""
        return 0.5 * (heatmaps + self.flip_heatmaps(heatmaps_of_flipped_input, flip_index))

