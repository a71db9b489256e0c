"""Simple Pose multi-scale focal L2 loss (`models/loss_model.py` of the official code).

Per pixel and channel: st = where(gt >= thre, s - alpha, 1 - s - beta), factor = |1 - st|^gamma,
loss = (s - gt)^2 * factor * mask. gamma = 1 is the published training default (`loss_model.py`);
gamma = 2 is the variant behind the README's test-dev number. `focal=False` gives plain L2.
The mask is the ignore mask times channel weights (person-mask channel x0.1, keypoint channels x3).
Lower-scale targets are the average-pooled full-resolution target; every stack is supervised at
every scale; the total is sum_s w_s * mean_stack(sum over pixels) / sum(w_s) / batch.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def focal_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, thre: float = 0.01,
             alpha: float = 0.0, beta: float = 0.0, gamma: float = 1.0, focal: bool = True) -> torch.Tensor:
    """Sum over all elements of (pred - target)^2 * factor * mask (mask broadcasts)."""
    sq = (pred - target) ** 2
    if focal:
        st = torch.where(target >= thre, pred - alpha, 1 - pred - beta)
        sq = sq * torch.abs(1 - st) ** gamma
    return (sq * mask).sum()


class MultiScaleFocalL2(nn.Module):
    """The Simple Pose loss over every stack and scale. Channels are num_limbs body-part maps,
    num_keypoints keypoint maps, the person mask, the background (C = num_limbs + num_keypoints + 2)."""

    def __init__(self, num_limbs: int, num_keypoints: int, thre: float = 0.01, alpha: float = 0.0,
                 beta: float = 0.0, gamma: float = 1.0, focal: bool = True, mask_weight: float = 0.1,
                 keypoint_weight: float = 3.0, scale_weights: Sequence[float] = (0.1, 0.2, 0.4, 1.6, 6.4),
                 stack_weights: Sequence[float] | None = None):
        super().__init__()
        self.thre, self.alpha, self.beta, self.gamma, self.focal = thre, alpha, beta, gamma, focal
        self.scale_weights = list(scale_weights)
        self.stack_weights = None if stack_weights is None else list(stack_weights)
        channel = torch.ones(num_limbs + num_keypoints + 2)
        channel[num_limbs:num_limbs + num_keypoints] = keypoint_weight
        channel[num_limbs + num_keypoints] = mask_weight
        self.register_buffer("channel_weights", channel, persistent=False)

    @staticmethod
    def _mask_at(masks: torch.Tensor | Sequence[torch.Tensor], scale: int, size: tuple[int, int]) -> torch.Tensor:
        """(B, 1, h, w) ignore mask at one scale: the dataset's mask for that size when it gave one per
        scale, else the full-resolution mask bilinearly resized and zeroed below 0.5 (as published)."""
        if isinstance(masks, (list, tuple)):
            m = masks[scale] if scale < len(masks) and tuple(masks[scale].shape[-2:]) == size else masks[0]
        else:
            m = masks
        m = m.float()
        m = m[:, None] if m.dim() == 3 else m
        if tuple(m.shape[-2:]) != size:
            m = F.interpolate(m, size=size, mode="bilinear", align_corners=False)
            m = torch.where(m < 0.5, torch.zeros_like(m), m)
        return m

    def forward(self, preds: Sequence[Sequence[torch.Tensor]], targets: torch.Tensor,
                masks: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """preds: per stack a list of per-scale (B, C, h_s, w_s); targets (B, C, h, w) at scale 0;
        masks (B, h, w) or one per scale (1 = supervised, 0 = ignored)."""
        num_stacks = len(preds)
        stack_w = self.stack_weights or [1.0] * num_stacks
        if len(stack_w) != num_stacks or len(preds[0]) != len(self.scale_weights):
            raise ValueError(f"focal L2: got {num_stacks} stacks x {len(preds[0])} scales, weights for "
                             f"{len(stack_w)} stacks x {len(self.scale_weights)} scales")
        batch = targets.shape[0]
        total = targets.new_zeros(())
        for s, w_s in enumerate(self.scale_weights):
            size = tuple(preds[0][s].shape[-2:])
            gt = targets if tuple(targets.shape[-2:]) == size else F.adaptive_avg_pool2d(targets, size)
            mask = self._mask_at(masks, s, size) * self.channel_weights.to(gt)[None, :, None, None]
            per_stack = sum(w * focal_l2(stack[s], gt, mask, self.thre, self.alpha, self.beta, self.gamma,
                                         self.focal) for w, stack in zip(stack_w, preds))
            total = total + w_s * per_stack / sum(stack_w)
        return total / sum(self.scale_weights) / batch
