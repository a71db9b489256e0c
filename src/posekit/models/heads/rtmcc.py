"""RTMCC head (RTMPose): large-kernel conv to K maps, flatten, ScaleNorm + linear to a hidden size,
one GAU across the K keypoint tokens, then SimCC x/y classifiers.

Attribute names mirror mmpose's `RTMCCHead` (final_layer, mlp, gau, cls_x, cls_y)."""
from __future__ import annotations

import torch
from torch import nn

from posekit.models.heads.gau import GatedAttentionUnit, ScaleNorm


class RTMCCHead(nn.Module):
    def __init__(self, in_channels: int, num_keypoints: int, input_size: tuple[int, int],
                 feature_size: tuple[int, int], split_ratio: float = 2.0, kernel_size: int = 7,
                 hidden_dims: int = 256, s: int = 128, expansion: int = 2, dropout: float = 0.0,
                 act: str = "silu"):
        """input_size and feature_size are (w, h); the x classifier has w*split_ratio bins."""
        super().__init__()
        flatten_dims = feature_size[0] * feature_size[1]
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, kernel_size, padding=kernel_size // 2)
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, s=s, expansion=expansion, dropout=dropout, act=act)
        self.cls_x = nn.Linear(hidden_dims, int(input_size[0] * split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(input_size[1] * split_ratio), bias=False)
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
        tokens = self.mlp(self.final_layer(feature).flatten(2))  # (B, K, hidden)
        tokens = self.gau(tokens)
        return self.cls_x(tokens), self.cls_y(tokens)
