"""Associative-embedding loss, `exp` form, as HigherHRNet (`lib/core/loss.py`).

Per image: the reference tag of a person is the mean of its joint tags;
pull = mean over persons of mean((tag − ref)²); push = Σ_{i≠j} exp(−(ref_i − ref_j)²) / (N(N−1)) · 0.5.
Persons with no valid joint are skipped; with one person push is 0. Both are averaged over the batch
and weighted by 1e-3 each (published factors).
"""
from __future__ import annotations

import torch
from torch import nn


def ae_loss_per_image(tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """tags (B, K, H, W) or (B, K·H·W); joints (B, M, K, 2) int64 of flat index and valid flag.
    Returns push (B,) and pull (B,)."""
    flat = tags.reshape(tags.shape[0], -1)
    index, valid = joints[..., 0].long(), joints[..., 1].to(flat.dtype)
    values = torch.gather(flat, 1, index.reshape(len(flat), -1)).reshape(index.shape) * valid   # (B, M, K)
    counts = valid.sum(2)                                                                        # (B, M)
    exists = (counts > 0).to(flat.dtype)
    refs = values.sum(2) / counts.clamp(min=1)
    pull_each = (((values - refs[..., None]) ** 2) * valid).sum(2) / counts.clamp(min=1)
    num = exists.sum(1)
    pull = (pull_each * exists).sum(1) / num.clamp(min=1)
    # Off-diagonal pairs only: the same as the original's sum − N, without float32 cancellation.
    off_diagonal = 1 - torch.eye(refs.shape[1], dtype=flat.dtype, device=flat.device)
    pair = torch.exp(-(refs[:, :, None] - refs[:, None, :]) ** 2) * exists[:, :, None] * exists[:, None, :] * off_diagonal
    push = pair.sum((1, 2)) / (num * (num - 1)).clamp(min=1) * 0.5
    return push * (num > 1), pull


class AssociativeEmbeddingLoss(nn.Module):
    """Batch-mean push and pull terms of `ae_loss_per_image`, each times its factor."""

    def __init__(self, push_factor: float = 1e-3, pull_factor: float = 1e-3):
        super().__init__()
        self.push_factor = push_factor
        self.pull_factor = pull_factor

    def forward(self, tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tags (B, K, H, W), joints (B, M, K, 2) as `ae_loss_per_image` -> (push, pull) scalars."""
        push, pull = ae_loss_per_image(tags, joints)
        return push.mean() * self.push_factor, pull.mean() * self.pull_factor
