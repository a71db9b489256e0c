"""Top-down estimator: one person crop in, one pose out. Works with any codec that provides
`decode`, `flip_average` and a matching loss (heatmaps + MSE, SimCC + KL)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from posekit.codecs import build_codec
from posekit.data.transforms.geometry import apply_affine, invert_affine
from posekit.estimators.base import Estimator
from posekit.keypoints import KeypointSet, get_keypoint_set
from posekit.models.losses.joints_mse import joints_mse
from posekit.models.zoo import get_entry

LossFn = Callable[[Any, dict[str, Any]], dict[str, torch.Tensor]]


def heatmap_loss(outputs: torch.Tensor, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    loss = joints_mse(outputs, batch["heatmaps"].to(outputs), batch["keypoint_weights"].to(outputs))
    return {"loss": loss, "loss_heatmap": loss.detach()}


def simcc_loss(outputs: tuple[torch.Tensor, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    from posekit.models.losses.kl_discrete import KLDiscretLoss
    pred_x, pred_y = outputs
    loss = KLDiscretLoss()(pred_x, pred_y, batch["keypoint_x_labels"].to(pred_x),
                           batch["keypoint_y_labels"].to(pred_y), batch["keypoint_weights"].to(pred_x))
    return {"loss": loss, "loss_kl": loss.detach()}


LOSSES: dict[str, LossFn] = {"heatmap": heatmap_loss, "simcc": simcc_loss}


class TopDownEstimator(Estimator):
    default_metric = "AP"

    def __init__(self, model: torch.nn.Module, codec: Any, keypoint_set: KeypointSet, loss_fn: LossFn):
        super().__init__(model, codec, keypoint_set)
        self.loss_fn = loss_fn

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
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
        outputs = self.predict_outputs(batch["image"], flip_test)
        keypoints, scores = self.codec.decode(outputs)
        warps = np.asarray(batch["warp"], dtype=np.float64)
        keypoints = np.stack([apply_affine(kpts, invert_affine(warp)) for kpts, warp in zip(keypoints, warps)])
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
                            model_params: dict | None = None) -> TopDownEstimator:
    """A zoo model with its codec and loss; codec params override the zoo's defaults."""
    entry = get_entry(model_name)
    kset = get_keypoint_set(keypoint_set or entry.keypoint_set)
    size = entry.check_input_size(input_size or entry.input_size)
    codec_params = dict(entry.codec)
    codec_params.update(codec or {})
    codec_name = codec_params.pop("name")
    if codec_name not in LOSSES:
        raise ValueError(f"no top-down loss for codec '{codec_name}'; known: {', '.join(LOSSES)}")
    stride = codec_params.pop("output_stride", None)
    if stride and "heatmap_size" not in codec_params:
        codec_params["heatmap_size"] = [size[0] // stride, size[1] // stride]
    codec_obj = build_codec(codec_name, input_size=size, **codec_params)
    model = entry.build(kset, size, **(model_params or {}))
    return TopDownEstimator(model, codec_obj, kset, LOSSES[codec_name])
