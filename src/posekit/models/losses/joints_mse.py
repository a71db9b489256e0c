"""The SimpleBaseline heatmap loss, as PoseDual/SSPCM use it."""
from __future__ import annotations

import torch


def joints_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """0.5 * per-joint MSE over pixels, averaged over joints and batch (JointsMSELoss with target weight).

    pred, target: (B, K, H, W); weight: (B, K) or None.
    """
    per_joint = ((pred - target) ** 2).flatten(2).mean(-1)  # (B, K)
    if weight is not None:
        per_joint = per_joint * weight.reshape(per_joint.shape) ** 2
    return 0.5 * per_joint.mean()
