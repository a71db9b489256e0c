"""Top-down estimator: one person crop in, one pose out. Works with any `codecs.base.TopDownCodec`
(heatmaps, SimCC) and the loss built for it (`models.losses`, the codec's default unless named)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from posekit.codecs.base import TopDownCodec
from posekit.data.transforms.preprocess import to_image
from posekit.estimators.base import Estimator, register_estimator
from posekit.keypoints import KeypointSet
from posekit.models.zoo import TOPDOWN

LossFn = Callable[[Any, dict[str, Any]], dict[str, torch.Tensor]]


@register_estimator
class TopDownEstimator(Estimator):
    """One person crop per batch entry; any TopDownCodec decodes the outputs.

    `loss_fn(outputs, batch)` gives the training losses.
    """

    default_metric = "AP"
    kind = TOPDOWN
    codec_type = TopDownCodec

    def __init__(self, model: torch.nn.Module, codec: Any, keypoint_set: KeypointSet, loss_fn: LossFn):
        super().__init__(model, codec, keypoint_set)
        self.loss_fn = loss_fn

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """`loss_fn` on the network's outputs for batch['image'] and the codec's targets in the batch."""
        return self.loss_fn(self.model(batch["image"]), batch)

    def _to_numpy(self, outputs: Any) -> Any:
        if isinstance(outputs, (tuple, list)):
            return tuple(o.detach().float().cpu().numpy() for o in outputs)
        return outputs.detach().float().cpu().numpy()

    @torch.no_grad()
    def predict_outputs(self, images: torch.Tensor, flip_test: bool = True) -> Any:
        """Raw outputs (numpy), flip-averaged when asked."""
        outputs = self._to_numpy(self.model(images))
        if flip_test:
            flipped = self._to_numpy(self.model(images.flip(-1)))
            outputs = self.codec.flip_average(outputs, flipped, self.keypoint_set.flip_index)
        return outputs

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        """Per crop, a list of one person: image_id, keypoints (K, 3) x, y, score in original-image
        pixels (through batch['warp']), and score = box score x mean of the keypoint scores above 0.2."""
        outputs = self.predict_outputs(batch["image"], flip_test)
        keypoints, scores = self.codec.decode(outputs)
        keypoints = to_image(keypoints, batch["warp"])
        image_ids = np.asarray(batch["image_id"]).tolist()
        bbox_scores = np.asarray(batch.get("bbox_score", np.ones(len(image_ids)))).tolist()
        results = []
        for i, image_id in enumerate(image_ids):
            kpt_scores = np.asarray(scores[i], dtype=np.float64)
            # COCO-style rescoring: box score x mean of the confident keypoints' scores.
            confident = kpt_scores[kpt_scores > 0.2]
            pose_score = float(confident.mean()) if confident.size else 0.0
            results.append([{
                "image_id": int(image_id),
                "keypoints": np.concatenate([keypoints[i], kpt_scores[:, None]], axis=1),
                "score": pose_score * float(bbox_scores[i]),
            }])
        return results


def build_topdown_estimator(model_name: str, keypoint_set: str | KeypointSet | None = None,
                            input_size: tuple[int, int] | None = None, codec: dict | None = None,
                            model_params: dict | None = None, loss: dict | None = None) -> TopDownEstimator:
    """A top-down zoo model with its codec and loss (`estimators.build.build_estimator`); `codec` and
    `loss` are {"name": ..., **params} with the name optional (the zoo's codec, the codec's loss)."""
    from posekit.estimators.build import build_estimator, split_named
    return build_estimator(model_name, keypoint_set, input_size, *split_named(codec), model_params,
                           *split_named(loss), paradigm="topdown")
