"""Associative-embedding (HigherHRNet) estimator: whole image in, all persons out.

The model returns a list of output maps (one per resolution); the `AssociativeEmbeddingCodec`
encodes targets, merges raw outputs (`merge_outputs`: resolutions, flip, projection to input size;
called here to average test scales) and groups them (`parse_maps`). The loss is the one built for
it (default: masked heatmap MSE per resolution plus the associative-embedding pull/push).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from posekit.codecs.associative_embedding import AssociativeEmbeddingCodec
from posekit.estimators.base import Estimator, grouped_persons, register_estimator
from posekit.keypoints import KeypointSet
from posekit.models.zoo import ASSOCIATIVE_EMBEDDING


@register_estimator
class BottomUpEstimator(Estimator):
    """HigherHRNet-style estimator: whole images in, associative-embedding grouping out.

    `test_scales` (input-size factors) average heatmaps over rescaled inputs at predict time;
    `loss_fn(outputs, batch)` gives the training losses.
    """

    default_metric = "AP"
    kind = ASSOCIATIVE_EMBEDDING
    codec_type = AssociativeEmbeddingCodec  # its test-scale averaging uses that codec's merge and parse

    def __init__(self, model: torch.nn.Module, codec: Any, keypoint_set: KeypointSet,
                 loss_fn: Callable[[Any, dict[str, Any]], dict[str, torch.Tensor]],
                 test_scales: Sequence[float] = (1.0,)):
        super().__init__(model, codec, keypoint_set)
        self.loss_fn = loss_fn
        self.test_scales = tuple(test_scales)

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """`loss_fn` on the network's outputs for batch['image'] and the batch's targets and masks."""
        return self.loss_fn(self.model(batch["image"]), batch)

    @torch.no_grad()
    def predict_maps(self, images: torch.Tensor, flip_test: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Merged heatmaps (B, K, H, W) and tags (B, K, H, W, L) at input resolution. Multi-scale
        averages the heatmaps over scales; tags come from scale 1 only, as the published
        `aggregate_results` appends them only there."""
        size = (images.shape[-1], images.shape[-2])
        heatmaps, tags = 0.0, None
        for scale in self.test_scales:
            scaled = images
            if scale != 1:
                target = [max(64, int(round(s * scale / 64)) * 64) for s in images.shape[-2:]]
                scaled = F.interpolate(images, size=target, mode="bilinear", align_corners=False)
            outputs = self.model(scaled)
            flipped = None
            if flip_test:
                flipped = [o.flip(-1) for o in self.model(scaled.flip(-1))]
            heat, tag = self.codec.merge_outputs(outputs, flipped, self.keypoint_set.flip_index, project_size=size)
            heatmaps = heatmaps + heat
            if scale == 1 or len(self.test_scales) == 1:
                tags = tag
        return heatmaps / len(self.test_scales), tags

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        """Per image, the grouped persons: image_id, keypoints (K, 3) x, y, score mapped back to the
        original image through batch['warp'], and the person's score."""
        heatmaps, tags = self.predict_maps(batch["image"], flip_test)
        decoded = self.codec.parse_maps({"heatmaps": heatmaps, "tags": tags})
        return grouped_persons(decoded, batch)


def build_bottomup_estimator(model_name: str, keypoint_set: str | KeypointSet | None = None,
                             input_size: tuple[int, int] | None = None, codec: dict | None = None,
                             model_params: dict | None = None, test_scales: Sequence[float] = (1.0,),
                             loss: dict | None = None) -> Estimator:
    """A bottom-up zoo model with its estimator (the zoo's: associative embedding or Simple Pose),
    codec and loss (`estimators.build.build_estimator`); `codec` and `loss` are {"name": ...,
    **params} with the name optional (the zoo's codec, the codec's loss). `test_scales` apply to
    the associative-embedding estimator."""
    from posekit.estimators.build import build_estimator, split_named
    from posekit.models.zoo import get_entry
    options = {"test_scales": tuple(test_scales)} if get_entry(model_name).estimator == BottomUpEstimator.kind else {}
    return build_estimator(model_name, keypoint_set, input_size, *split_named(codec), model_params,
                           *split_named(loss), paradigm="bottomup", **options)
