"""Masked heatmap MSE as HigherHRNet: ((pred − gt)² · mask).mean() over (K, H, W) per image, then
averaged over the batch. The mask (B, H, W) is 0 on crowd regions and unannotated people."""
from __future__ import annotations

import torch
from torch import nn


class MaskedHeatmapMSE(nn.Module):
    """The module docstring's loss, with no parameters; ValueError where the shapes disagree."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """pred, target (B, K, H, W); mask (B, H, W), 1 = supervised -> scalar."""
        if pred.shape != target.shape or mask.shape != (pred.shape[0], *pred.shape[2:]):
            raise ValueError(f"masked heatmap loss: prediction {tuple(pred.shape)}, target {tuple(target.shape)} "
                             f"and mask {tuple(mask.shape)} do not agree (mask must be (B, H, W))")
        return (((pred - target) ** 2) * mask[:, None].to(pred.dtype)).mean((1, 2, 3)).mean()
