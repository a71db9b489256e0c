"""The two codec contracts. Every registered codec follows one of them; an estimator calls a codec
only through its contract (plus, for a codec-specific estimator, that codec class's own methods).

Shapes, written once (K keypoints, N persons of one image, B images, P persons found):
- top-down:  encode: keypoints (K, 2) in input pixels, visible (K,) in {0, 1} -> {name: array}, float32
             targets that become batch entries of the same names; decode: the network's outputs for
             a batch (numpy) -> keypoints (B, K, 2) in input pixels, scores (B, K).
- bottom-up: encode: keypoints (N, K, 2), visible (N, K) -> {name: array}; decode: the network's maps
             for a batch (and those of the mirrored batch) -> one (keypoints (P, K, 3) x, y, score in
             input pixels, scores (P,)) per image.
Sizes are (width, height). `default_loss` names the loss (models.losses registry) the codec's
targets are trained with when the config's `loss.name` is empty.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class TopDownCodec(Protocol):
    """One person crop: outputs are heatmaps (B, K, h, w) or SimCC logits ((B, K, Wx), (B, K, Wy))."""

    input_size: tuple[int, int]      # network input (w, h)
    output_size: tuple[int, int]     # heatmap (w, h) or SimCC bins (x, y): what the model's head outputs
    default_loss: str

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Keypoints (K, 2) in input pixels, visible (K,) -> named float32 training targets."""
        ...

    def decode(self, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """A batch's outputs (numpy) -> keypoints (B, K, 2) in input pixels and scores (B, K)."""
        ...

    def flip_average(self, outputs: Any, flipped: Any, flip_index: Sequence[int] | np.ndarray) -> Any:
        """Flip test: the mean of `outputs` and of `flipped` (the outputs of the mirrored crops, same
        structure) brought back into the original frame with the keypoint set's flip_index."""
        ...


@runtime_checkable
class BottomUpCodec(Protocol):
    """A whole image: outputs at one or more resolutions, decoded by the codec's grouping."""

    input_size: tuple[int, int]          # network input (w, h)
    output_sizes: list[tuple[int, int]]  # (w, h) of each output resolution, highest first
    default_loss: str

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """One image's keypoints (N, K, 2) in input pixels, visible (N, K) -> named training targets."""
        ...

    def decode(self, outputs: Any, flipped: Any = None,
               flip_index: Sequence[int] | np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """`flipped`: the same outputs for the mirrored images (not yet mirrored back), for flip test."""
        ...

    def ideal_outputs(self, keypoints: np.ndarray, visible: np.ndarray) -> Any:
        """What a perfect network outputs for one image's persons, as a batch of one in `decode`'s form
        (`posekit codec-check` scores a codec's ceiling with it)."""
        ...
