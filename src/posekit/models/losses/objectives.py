"""The registered training losses: each reads the targets its codec encodes from the batch."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from posekit.config import ConfigError
from posekit.keypoints import KeypointSet
from posekit.models.losses import register_loss
from posekit.models.losses.ae import AssociativeEmbeddingLoss
from posekit.models.losses.focal_l2 import MultiScaleFocalL2
from posekit.models.losses.heatmap_masked import MaskedHeatmapMSE
from posekit.models.losses.joints_mse import joints_mse
from posekit.models.losses.kl_discrete import KLDiscretLoss

Batch = dict[str, Any]


@register_loss("joints_mse")
class JointsMSE(nn.Module):
    """Heatmaps (B, K, h, w) against the heatmap codec's `heatmaps`, per-keypoint `keypoint_weights`."""

    def __init__(self, codec: Any, keypoint_set: KeypointSet, use_target_weight: bool = True):
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, outputs: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """(B, K, h, w) heatmaps -> {"loss", "loss_heatmap" (detached)}; weights unused if not use_target_weight."""
        weights = batch["keypoint_weights"].to(outputs) if self.use_target_weight else None
        loss = joints_mse(outputs, batch["heatmaps"].to(outputs), weights)
        return {"loss": loss, "loss_heatmap": loss.detach()}


@register_loss("kl_discrete")
class SimCCKL(nn.Module):
    """SimCC logits ((B, K, Wx), (B, K, Wy)) against the SimCC codec's labels (RTMPose's loss)."""

    def __init__(self, codec: Any, keypoint_set: KeypointSet, beta: float = 10.0, label_softmax: bool = True,
                 label_beta: float = 10.0, use_target_weight: bool = True):
        super().__init__()
        self.kl = KLDiscretLoss(beta, label_softmax, label_beta, use_target_weight)

    def forward(self, outputs: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        """(x logits (B, K, Wx), y logits (B, K, Wy)) -> {"loss", "loss_kl" (detached)}."""
        pred_x, pred_y = outputs
        loss = self.kl(pred_x, pred_y, batch["keypoint_x_labels"].to(pred_x), batch["keypoint_y_labels"].to(pred_y),
                       batch["keypoint_weights"].to(pred_x))
        return {"loss": loss, "loss_kl": loss.detach()}


@register_loss("associative_embedding")
class AssociativeEmbeddingObjective(nn.Module):
    """HigherHRNet: masked heatmap MSE per output resolution (weighted by `heatmap_factors`) plus the
    associative-embedding pull/push on the 1/4 tag maps."""

    def __init__(self, codec: Any, keypoint_set: KeypointSet, heatmap_factors: Sequence[float] = (1.0, 1.0),
                 push_factor: float = 1e-3, pull_factor: float = 1e-3):
        super().__init__()
        if len(heatmap_factors) != len(codec.output_sizes):
            raise ConfigError(f"config key 'loss.params.heatmap_factors': {len(heatmap_factors)} factors for "
                              f"{len(codec.output_sizes)} output resolutions")
        self.num_keypoints = keypoint_set.num_keypoints
        self.heatmap_factors = tuple(heatmap_factors)
        self.heatmap_loss = MaskedHeatmapMSE()
        self.ae_loss = AssociativeEmbeddingLoss(push_factor, pull_factor)

    def forward(self, outputs: Sequence[torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        """HigherHRNet outputs [(B, 2K, h0, w0) heatmaps + tags, (B, K, h1, w1) heatmaps, ...] ->
        {"loss": sum of the terms, then each term detached: loss_heatmap_i, loss_push, loss_pull}."""
        k = self.num_keypoints
        masks = batch["masks"]
        if len(masks) != len(outputs):
            raise ValueError(f"bottom-up batch: {len(masks)} masks for {len(outputs)} output resolutions")
        terms: dict[str, torch.Tensor] = {}
        for i, (output, factor) in enumerate(zip(outputs, self.heatmap_factors)):
            target = batch[f"heatmaps_{i}"].to(output)
            terms[f"loss_heatmap_{i}"] = factor * self.heatmap_loss(output[:, :k], target, masks[i].to(output))
        terms["loss_push"], terms["loss_pull"] = self.ae_loss(outputs[0][:, k:2 * k], batch["joints"].to(outputs[0].device))
        total = sum(terms.values())
        return {"loss": total, **{name: value.detach() for name, value in terms.items()}}


@register_loss("focal_l2")
class FocalL2Objective(nn.Module):
    """Simple Pose: multi-scale focal L2 on every stack against the body-part codec's `targets`, under
    the dataset's per-scale ignore masks. Defaults: the official `loss_model.py` (gamma 2 is the
    test-dev variant; `focal: false` is plain L2, the ablation; empty `stack_weights`: every stack 1)."""

    def __init__(self, codec: Any, keypoint_set: KeypointSet, focal: bool = True, thre: float = 0.01,
                 alpha: float = 0.0, beta: float = 0.0, gamma: float = 1.0, mask_weight: float = 0.1,
                 keypoint_weight: float = 3.0, scale_weights: Sequence[float] = (0.1, 0.2, 0.4, 1.6, 6.4),
                 stack_weights: Sequence[float] = ()):
        super().__init__()
        if len(scale_weights) != len(codec.output_sizes):
            raise ConfigError(f"config key 'loss.params.scale_weights': {len(scale_weights)} weights for "
                              f"{len(codec.output_sizes)} codec scales")
        self.focal_l2 = MultiScaleFocalL2(codec.num_limbs, codec.num_parts, thre=thre, alpha=alpha, beta=beta,
                                          gamma=gamma, focal=focal, mask_weight=mask_weight,
                                          keypoint_weight=keypoint_weight, scale_weights=scale_weights,
                                          stack_weights=list(stack_weights) or None)

    def forward(self, outputs: Sequence[Sequence[torch.Tensor]], batch: Batch) -> dict[str, torch.Tensor]:
        """IMHN outputs (per stack, per scale (B, C, h_s, w_s)) -> {"loss"}, no separate parts."""
        masks = batch["masks"]
        if len(masks) != len(outputs[0]):
            raise ValueError(f"simplepose batch: {len(masks)} masks for {len(outputs[0])} output scales")
        device = batch["image"].device
        return {"loss": self.focal_l2(outputs, batch["targets"].to(device), [m.to(device) for m in masks])}
