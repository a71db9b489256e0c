"""Identity-mapping hourglass (IMHN) building blocks of Simple Pose (`models/layers_transposed.py`).

Bottleneck residuals with LeakyReLU(0.01), a stem with a dilated-convolution branch, and an
hourglass whose width grows by `increase` channels at every downsampling and that returns the
features of every scale (the top one plus the innermost feature of each depth).
"""
from __future__ import annotations

import torch
from torch import nn


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.01, inplace=True)


class Residual(nn.Module):
    """Bottleneck 1x1 -> 3x3 -> 1x1 (half width inside), BN everywhere, 1x1 projection when the width
    changes, LeakyReLU after the sum."""

    def __init__(self, ins: int, outs: int):
        super().__init__()
        mid = outs // 2
        self.block = nn.Sequential(
            nn.Conv2d(ins, mid, 1, bias=False), nn.BatchNorm2d(mid), _lrelu(),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), _lrelu(),
            nn.Conv2d(mid, outs, 1, bias=False), nn.BatchNorm2d(outs))
        self.skip = (nn.Sequential(nn.Conv2d(ins, outs, 1, bias=False), nn.BatchNorm2d(outs))
                     if ins != outs else nn.Identity())
        self.act = _lrelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ins, H, W) -> (B, outs, H, W)."""
        return self.act(self.block(x) + self.skip(x))


class ConvBlock(nn.Sequential):
    """Conv (+BN, no bias) (+LeakyReLU); without BN the conv has a bias."""

    def __init__(self, ins: int, outs: int, kernel: int = 3, bn: bool = True, act: bool = True, dilation: int = 1):
        layers: list[nn.Module] = [nn.Conv2d(ins, outs, kernel, padding=dilation * (kernel - 1) // 2,
                                             dilation=dilation, bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(outs))
        if act:
            layers.append(_lrelu())
        super().__init__(*layers)


class Stem(nn.Module):
    """7x7/2 conv -> Residual -> maxpool -> Residual (stride 4), concatenated with a branch of six
    dilated 3x3 convs (dilations 3, 3, 4, 4, 5, 5): 2 x `width` channels out (256 published)."""

    def __init__(self, width: int = 128, first: int = 64):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, first, 7, stride=2, padding=3, bias=False),
                                   nn.BatchNorm2d(first), _lrelu())
        self.res1 = Residual(first, width)
        self.pool = nn.MaxPool2d(2, 2)
        self.res2 = Residual(width, width)
        self.dilated = nn.Sequential(*[ConvBlock(width, width, 3, dilation=d) for d in (3, 3, 4, 4, 5, 5)])
        self.out_channels = 2 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, 2 * width, H/4, W/4): plain features, then the dilated branch's."""
        x = self.res2(self.pool(self.res1(self.conv1(x))))
        return torch.cat([x, self.dilated(x)], 1)


class Hourglass(nn.Module):
    """Recursive hourglass of `depth` levels; level d works at width + increase * d channels.

    Each level: skip Residual, maxpool -> Residual (widening), inner level (or the innermost
    Residual), Residual (narrowing), nearest x2 upsampling -> 3x3 conv, added to the skip.
    forward returns [top feature (width), then the inner feature of each level, finest first]:
    depth + 1 scales with width + increase * s channels.
    """

    def __init__(self, depth: int, width: int, increase: int = 128):
        super().__init__()
        self.depth = depth
        levels = []
        for d in range(depth):
            c, c_low = width + increase * d, width + increase * (d + 1)
            level = nn.ModuleDict({"skip": Residual(c, c), "down": Residual(c, c_low),
                                   "up": Residual(c_low, c), "refine": ConvBlock(c, c, 3)})
            if d == depth - 1:
                level["inner"] = Residual(c_low, c_low)
            levels.append(level)
        self.levels = nn.ModuleList(levels)
        self.pool = nn.MaxPool2d(2, 2)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    def _level(self, d: int, x: torch.Tensor, inner: list[torch.Tensor]) -> torch.Tensor:
        level = self.levels[d]
        low = level["down"](self.pool(x))
        low = level["inner"](low) if d == self.depth - 1 else self._level(d + 1, low, inner)
        inner.append(low)
        return level["skip"](x) + level["refine"](self.upsample(level["up"](low)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, width, H, W) -> depth + 1 maps; map s is (B, width + increase * s, H/2^s, W/2^s)."""
        inner: list[torch.Tensor] = []
        top = self._level(0, x, inner)
        return [top] + inner[::-1]


class SELayer(nn.Module):
    """Squeeze-and-excitation: global average -> Linear(c, c/r) -> LeakyReLU -> Linear -> sigmoid."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        if channels <= reduction:
            raise ValueError(f"SELayer: channels ({channels}) must exceed the reduction ({reduction})")
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction), nn.LeakyReLU(0.01, inplace=True),
                                nn.Linear(channels // reduction, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W), each channel scaled by its learned gate in (0, 1)."""
        return x * self.fc(x.mean((2, 3)))[:, :, None, None]
