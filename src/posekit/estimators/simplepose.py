"""Simple Pose estimator: IMHN body-part maps, multi-scale focal L2, greedy part assignment.

Training applies the loss built for it (default `focal_l2`: every stack at every scale against the
codec's 50-channel targets, under the dataset's per-scale ignore masks). Prediction takes the
last stack's full-resolution maps (plus the flipped image's, un-flipped by the codec), groups them
with the codec, and maps the poses back to original-image pixels through the inverse warp.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from posekit.codecs.bodypart import BodyPartCodec
from posekit.estimators.base import Estimator, grouped_persons, register_estimator
from posekit.keypoints import KeypointSet
from posekit.models.zoo import SIMPLEPOSE


@register_estimator
class SimplePoseEstimator(Estimator):
    """Simple Pose estimator: whole images in, persons grouped from body-part maps by `BodyPartCodec`.

    `loss_fn(outputs, batch)` gives the training losses (every stack, every scale).
    """

    default_metric = "AP"
    kind = SIMPLEPOSE
    codec_type = BodyPartCodec  # the model's channels are that codec's layout

    def __init__(self, model: torch.nn.Module, codec: Any, keypoint_set: KeypointSet,
                 loss_fn: Callable[[Any, dict[str, Any]], dict[str, torch.Tensor]]):
        super().__init__(model, codec, keypoint_set)
        self.loss_fn = loss_fn

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """`loss_fn` on the network's outputs for batch['image'] and the batch's targets and masks."""
        return self.loss_fn(self.model(batch["image"]), batch)

    @torch.no_grad()
    def predict_maps(self, images: torch.Tensor, flip_test: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The last stack's full-resolution maps (B, C, h, w) and, with flip, the flipped image's."""
        maps = self.model(images)[-1][0].float().cpu().numpy()
        flipped = self.model(images.flip(-1))[-1][0].float().cpu().numpy() if flip_test else None
        return maps, flipped

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        """Per image, the grouped persons: image_id, keypoints (K, 3) x, y, score mapped back to the
        original image through batch['warp'], and the person's score."""
        maps, flipped = self.predict_maps(batch["image"], flip_test)
        decoded = self.codec.decode(maps, flipped, self.keypoint_set.flip_index if flipped is not None else None)
        return grouped_persons(decoded, batch)
