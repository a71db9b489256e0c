"""RTMCC head (RTMPose): large-kernel conv to K maps, flatten, ScaleNorm + linear to a hidden size,
one GAU across the K keypoint tokens, then SimCC x/y classifiers.

Attribute names mirror mmpose's `RTMCCHead` (final_layer, mlp, gau, cls_x, cls_y)."""
from __future__ import annotations

import torch
from torch import nn

from posekit.models.heads.gau import GatedAttentionUnit, ScaleNorm


class RTMCCHead(nn.Module):
    """Stride-32 backbone features -> per-keypoint SimCC x and y logits; one token per keypoint."""

    def __init__(self, in_channels: int, num_keypoints: int, bins: tuple[int, int],
                 feature_size: tuple[int, int], kernel_size: int = 7,
                 hidden_dims: int = 256, s: int = 128, expansion: int = 2, dropout: float = 0.0,
                 act: str = "silu"):
        """bins (x, y): the SimCC codec's output_size (input size x split ratio); feature_size (w, h)."""
        super().__init__()
        flatten_dims = feature_size[0] * feature_size[1]
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, kernel_size, padding=kernel_size // 2)
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, s=s, expansion=expansion, dropout=dropout, act=act)
        self.cls_x = nn.Linear(hidden_dims, int(bins[0]), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(bins[1]), bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        # mmpose's RTMCCHead init: convs N(0, 0.001), linears N(0, 0.01) with zero bias.
        # (The GAU's uv is re-initialised here too, exactly as mmpose's head init overrides it.)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)

    def forward(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, in_channels, h, w) with (w, h) = feature_size -> x logits (B, K, bins[0]), y logits
        (B, K, bins[1])."""
        tokens = self.mlp(self.final_layer(feature).flatten(2))  # (B, K, hidden)
        tokens = self.gau(tokens)
        return self.cls_x(tokens), self.cls_y(tokens)
