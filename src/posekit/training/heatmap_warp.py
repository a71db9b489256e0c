"""Warp heatmaps by a per-sample affine given in input pixels (PoseDual's T(easy)): the easy
view's heatmaps are moved into the hard view's frame so they can serve as its targets."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def heatmap_affine(affine: torch.Tensor, stride: Sequence[float]) -> torch.Tensor:
    """(B, 2, 3) input-pixel affines -> the same maps in heatmap pixels.

    A heatmap pixel p sits at input pixel S p (S = diag(stride)), so the map is S^-1 A S
    (translation divided by the stride)."""
    sx, sy = float(stride[0]), float(stride[1])
    scale = affine.new_tensor([sx, sy])
    out = affine.clone()
    out[:, :, :2] = affine[:, :, :2] * scale[None, None, :] / scale[None, :, None]
    out[:, :, 2] = affine[:, :, 2] / scale[None, :]
    return out


def _invert(affine: torch.Tensor) -> torch.Tensor:
    full = torch.cat([affine, affine.new_tensor([0.0, 0.0, 1.0]).expand(affine.shape[0], 1, 3)], dim=1)
    return torch.linalg.inv(full)[:, :2]


def warp_heatmaps(heatmaps: torch.Tensor, affine: torch.Tensor, stride: Sequence[float]) -> torch.Tensor:
    """Heatmaps (B, K, h, w) of the easy view, resampled (bilinear, zeros outside) into the frame
    that `affine` (B, 2, 3, easy input px -> hard input px) maps to; `stride` (x, y) is input
    pixels per heatmap pixel (the codec's `stride`)."""
    if affine.shape[1:] != (2, 3) or affine.shape[0] != heatmaps.shape[0]:
        raise ValueError(f"warp_heatmaps: affine of shape {tuple(affine.shape)} does not match "
                         f"heatmaps of shape {tuple(heatmaps.shape)} (want (B, 2, 3))")
    b, _, h, w = heatmaps.shape
    # grid_sample pulls: each output (hard) pixel reads the easy pixel the inverse map points to.
    inverse = _invert(heatmap_affine(affine.to(torch.float64), stride))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=heatmaps.device),
                            torch.arange(w, dtype=torch.float64, device=heatmaps.device), indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(1, -1, 3)  # (1, h*w, 3)
    source = points @ inverse.transpose(1, 2)  # (B, h*w, 2) in easy heatmap pixels
    norm = source.new_tensor([2.0 / (w - 1), 2.0 / (h - 1)])
    grid = (source * norm - 1.0).reshape(b, h, w, 2).to(heatmaps.dtype)
    return F.grid_sample(heatmaps, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
