"""Simple Pose estimator: IMHN body-part maps, multi-scale focal L2, greedy part assignment.

Training supervises every stack at every scale against the codec's 50-channel targets (lower scales
average-pooled inside the loss) under the dataset's per-scale ignore masks. Prediction takes the
last stack's full-resolution maps (plus the flipped image's, un-flipped by the codec), groups them
with the codec, and maps the poses back to original-image pixels through the inverse warp.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from posekit.config import from_dict
from posekit.estimators.base import Estimator
from posekit.data.transforms.geometry import apply_affine, invert_affine
from posekit.keypoints import KeypointSet
from posekit.models.losses.focal_l2 import MultiScaleFocalL2


@dataclass
class FocalL2Config:
    """`codec.params.loss` of a Simple Pose config (defaults: the official `loss_model.py`)."""
    focal: bool = True                   # false: plain L2 (the ablation)
    thre: float = 0.01                   # target >= thre counts as foreground for the focal factor
    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 1.0                   # 2 is the test-dev variant
    mask_weight: float = 0.1             # person-mask channel weight
    keypoint_weight: float = 3.0         # keypoint channels' weight
    scale_weights: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.4, 1.6, 6.4])
    stack_weights: list[float] = field(default_factory=list)  # empty: every stack weighs 1


def focal_l2_config(params: dict | None) -> FocalL2Config:
    return from_dict(FocalL2Config, dict(params or {}), prefix="codec.params.loss")


class SimplePoseEstimator(Estimator):
    default_metric = "AP"

    def __init__(self, model: torch.nn.Module, codec: Any, keypoint_set: KeypointSet,
                 loss: FocalL2Config | None = None):
        super().__init__(model, codec, keypoint_set)
        cfg = loss or FocalL2Config()
        if len(cfg.scale_weights) != len(codec.output_sizes):
            raise ValueError(f"codec.params.loss.scale_weights: {len(cfg.scale_weights)} weights for "
                             f"{len(codec.output_sizes)} codec scales")
        self.loss_fn = MultiScaleFocalL2(codec.num_limbs, codec.num_parts, thre=cfg.thre, alpha=cfg.alpha,
                                         beta=cfg.beta, gamma=cfg.gamma, focal=cfg.focal,
                                         mask_weight=cfg.mask_weight, keypoint_weight=cfg.keypoint_weight,
                                         scale_weights=cfg.scale_weights,
                                         stack_weights=cfg.stack_weights or None)

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        preds = self.model(batch["image"])
        masks = batch["masks"]
        if len(masks) != len(preds[0]):
            raise ValueError(f"simplepose batch: {len(masks)} masks for {len(preds[0])} output scales")
        device = batch["image"].device
        total = self.loss_fn(preds, batch["targets"].to(device), [m.to(device) for m in masks])
        return {"loss": total}

    @torch.no_grad()
    def predict_maps(self, images: torch.Tensor, flip_test: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The last stack's full-resolution maps (B, C, h, w) and, with flip, the flipped image's."""
        maps = self.model(images)[-1][0].float().cpu().numpy()
        flipped = self.model(images.flip(-1))[-1][0].float().cpu().numpy() if flip_test else None
        return maps, flipped

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        maps, flipped = self.predict_maps(batch["image"], flip_test)
        warps = np.asarray(batch["warp"], np.float64)
        image_ids = np.asarray(batch["image_id"]).tolist()
        results = []
        for i, (warp, image_id) in enumerate(zip(warps, image_ids)):
            (persons, scores), = self.codec.decode_raw(maps[i], None if flipped is None else flipped[i])
            points = apply_affine(persons[..., :2], invert_affine(warp))
            results.append([{"image_id": int(image_id),
                             "keypoints": np.concatenate([points[p], persons[p, :, 2:3]], axis=1),
                             "score": float(scores[p])} for p in range(len(persons))])
        return results
