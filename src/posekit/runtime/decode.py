"""Raw network outputs -> keypoints in crop pixels, numpy only, for the top-down codecs.

SimCC reuses posekit.codecs.simcc (numpy already). The heatmap codec module imports torch (its flip
helper takes tensors too), so its inference half (flip-back, argmax, UDP/DARK refinement) is
restated here over numpy, on the same refinement functions; tests/test_runtime.py checks both
against the torch predictor.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from posekit.codecs.refine import heatmap_maximum, refine_dark, refine_shift


class HeatmapDecoder:
    """Decoding of posekit.codecs.heatmap.HeatmapCodec: heatmaps (B, K, h, w) -> keypoints, scores."""

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int], mode: str = "udp",
                 refine: str = "dark", blur_kernel: int = 11):
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.mode, self.refine, self.blur_kernel = mode, refine, int(blur_kernel)
        inp = np.asarray(input_size, dtype=np.float64)
        out = np.asarray(self.heatmap_size, dtype=np.float64)
        self.stride = (inp - 1) / (out - 1) if mode == "udp" else inp / out

    def flip_average(self, heatmaps: np.ndarray, flipped: np.ndarray, flip_index: np.ndarray) -> np.ndarray:
        """Mean of heatmaps (B, K, h, w) and the mirrored input's maps, mirrored back and re-indexed."""
        back = flipped[..., ::-1][:, flip_index]
        if self.mode == "msra":  # MSRA maps mirror one pixel off (HeatmapCodec.flip_heatmaps)
            back = np.concatenate([back[..., :1], back[..., :-1]], axis=-1)
        return 0.5 * (heatmaps + back)

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (B, K, h, w) -> keypoints (B, K, 2) float32 in input (crop) pixels and scores (B, K),
        the maxima of the unrefined maps."""
        b, k, h, w = heatmaps.shape
        maps = np.ascontiguousarray(heatmaps, dtype=np.float32).reshape(b * k, h, w)
        locations, scores = heatmap_maximum(maps)
        if self.refine == "shift":
            locations = refine_shift(locations, maps)
        elif self.refine == "dark":
            locations = refine_dark(locations, maps, self.blur_kernel)
        return (locations * self.stride).reshape(b, k, 2).astype(np.float32), scores.reshape(b, k)


def build_decoder(codec: str, params: dict[str, Any], source: str) -> Any:
    """The decoder for a top-down codec name and its recorded settings (ModelMetadata.codec_params)."""
    try:
        if codec == "simcc":
            from posekit.codecs.simcc import SimCCCodec
            return SimCCCodec(params["input_size"], params.get("sigma"), params.get("split_ratio", 2.0),
                              params.get("normalize", False))
        if codec == "heatmap":
            return HeatmapDecoder(params["input_size"], params["heatmap_size"], params.get("mode", "udp"),
                                  params.get("refine", "dark"), params.get("blur_kernel", 11))
    except KeyError as exc:
        raise ValueError(f"{source}: codec '{codec}' metadata lacks {exc}") from None
    raise ValueError(f"{source}: posekit.runtime decodes the simcc and heatmap codecs, not '{codec}'")
