"""CSPNeXt (the RTMDet/RTMPose backbone), P5 architecture.

Attribute names mirror mmdet's `CSPNeXt`, `CSPLayer`, `CSPNeXtBlock`, `SPPBottleneck`,
`ChannelAttention` and mmcv's `ConvModule` (conv/bn/activate), so the published checkpoints load
after stripping their `backbone.` prefix (see `posekit.models.convert_mmpose`).
"""
from __future__ import annotations

import torch
from torch import nn

# P5 stages: in_channels, out_channels, num_blocks, add_identity, use_spp (before width/depth scaling).
P5_STAGES = ((64, 128, 3, True, False), (128, 256, 6, True, False),
             (256, 512, 6, True, False), (512, 1024, 3, False, True))


class ConvBNAct(nn.Module):
    """Conv (no bias) + BatchNorm + SiLU; the key layout of mmcv's ConvModule."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                              groups=groups, bias=False)
        # RTMPose configs override CSPNeXt's norm with plain (Sync)BN defaults: eps 1e-5, momentum 0.1.
        self.bn = nn.BatchNorm2d(out_channels)
        self.activate = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H/stride, W/stride); 'same' padding."""
        return self.activate(self.bn(self.conv(x)))


class DepthwiseSeparableConv(nn.Module):
    """Depthwise kxk ConvBNAct then pointwise 1x1 ConvBNAct (mmcv DepthwiseSeparableConvModule)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.depthwise_conv = ConvBNAct(in_channels, in_channels, kernel_size, groups=in_channels)
        self.pointwise_conv = ConvBNAct(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W)."""
        return self.pointwise_conv(self.depthwise_conv(x))


class CSPNeXtBlock(nn.Module):
    """3x3 conv then a 5x5 depthwise-separable conv, with an identity shortcut."""

    def __init__(self, channels: int, add_identity: bool, kernel_size: int = 5):
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3)
        self.conv2 = DepthwiseSeparableConv(channels, channels, kernel_size)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W); the shortcut is added only where `add_identity`."""
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    """Global average pool, 1x1 conv with bias, hard sigmoid, channel-wise rescale."""

    def __init__(self, channels: int):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W), each channel scaled by a weight in [0, 1]."""
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPLayer(nn.Module):
    """Cross-stage partial layer: a main branch of CSPNeXt blocks beside a 1x1 shortcut branch."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int, add_identity: bool,
                 expand_ratio: float = 0.5, channel_attention: bool = True):
        super().__init__()
        mid = int(out_channels * expand_ratio)
        self.main_conv = ConvBNAct(in_channels, mid, 1)
        self.short_conv = ConvBNAct(in_channels, mid, 1)
        self.final_conv = ConvBNAct(2 * mid, out_channels, 1)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, add_identity) for _ in range(num_blocks)])
        self.attention = ChannelAttention(2 * mid) if channel_attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W)."""
        merged = torch.cat((self.blocks(self.main_conv(x)), self.short_conv(x)), dim=1)
        return self.final_conv(self.attention(merged))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1x1 conv, parallel max-pools (5, 9, 13) concatenated, 1x1 conv.

    mmdet's CSPNeXt uses this parallel SPP (not the sequential SPPF); the parameters and the conv
    MACs are the same either way, the outputs are not.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: tuple[int, ...] = (5, 9, 13)):
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvBNAct(in_channels, mid, 1)
        self.poolings = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = ConvBNAct(mid * (len(kernel_sizes) + 1), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W); the pools keep the size."""
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class CSPNeXt(nn.Module):
    """CSPNeXt P5: a three-conv stem (stride 2) and four stride-2 stages; returns the stride-32 map."""

    def __init__(self, deepen_factor: float = 1.0, widen_factor: float = 1.0, expand_ratio: float = 0.5,
                 channel_attention: bool = True):
        super().__init__()
        stem_out = int(P5_STAGES[0][0] * widen_factor)
        self.stem = nn.Sequential(ConvBNAct(3, stem_out // 2, 3, stride=2),
                                  ConvBNAct(stem_out // 2, stem_out // 2, 3),
                                  ConvBNAct(stem_out // 2, stem_out, 3))
        for i, (cin, cout, blocks, add_identity, use_spp) in enumerate(P5_STAGES):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            layers: list[nn.Module] = [ConvBNAct(cin, cout, 3, stride=2)]
            if use_spp:
                layers.append(SPPBottleneck(cout, cout))
            layers.append(CSPLayer(cout, cout, max(round(blocks * deepen_factor), 1), add_identity,
                                   expand_ratio, channel_attention))
            self.add_module(f"stage{i + 1}", nn.Sequential(*layers))
        # mmdet initialises convs Kaiming-uniform (a=sqrt(5), fan_in): torch's own default, so no init here.
        self.out_channels = int(P5_STAGES[-1][1] * widen_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, out_channels, H/32, W/32) features (1024 * widen_factor channels)."""
        x = self.stem(x)
        for stage in (self.stage1, self.stage2, self.stage3, self.stage4):
            x = stage(x)
        return x
