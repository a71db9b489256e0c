"""HRNet (Sun et al. 2019): a stride-4 stem, then four stages of parallel branches at strides
4, 8, 16, 32 that exchange information through fuse layers (sum).

Attribute and sub-module names (conv1, bn1, layer1, transition1, stage2, branches, fuse_layers, ...)
follow the official HRNet/HigherHRNet code, so published checkpoints load with strict=True.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# The same residual blocks (and parameter names) as the official HRNet code; BN momentum 0.1 is
# torch's default, so ResNet's blocks serve unchanged.
from posekit.models.backbones.resnet import BasicBlock, Bottleneck

BN_MOMENTUM = 0.1


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                               nn.BatchNorm2d(cout, momentum=BN_MOMENTUM)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_blocks(block: type[BasicBlock] | type[Bottleneck], inplanes: int, planes: int, blocks: int) -> nn.Sequential:
    """`blocks` stride-1 residual blocks, inplanes -> planes * block.expansion channels; the first
    block gets a 1x1 conv + BN projection on its shortcut when the width changes."""
    downsample = None
    if inplanes != planes * block.expansion:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes * block.expansion, 1, bias=False),
                                   nn.BatchNorm2d(planes * block.expansion, momentum=BN_MOMENTUM))
    layers = [block(inplanes, planes, 1, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks, then every output branch sums all inputs brought to its
    resolution (strided 3x3 convs down, 1x1 conv + nearest upsampling up)."""

    def __init__(self, channels: tuple[int, ...], num_blocks: int, multi_scale_output: bool = True):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(make_blocks(BasicBlock, c, c, num_blocks) for c in channels)
        outputs = self.num_branches if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList()
        for i in range(outputs):
            row = nn.ModuleList()
            for j in range(self.num_branches):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(channels[j], channels[i], 1, bias=False),
                                             nn.BatchNorm2d(channels[i], momentum=BN_MOMENTUM),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    steps = [_conv_bn(channels[j], channels[j], 3, 2, relu=True) for _ in range(i - j - 1)]
                    steps.append(_conv_bn(channels[j], channels[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            self.fuse_layers.append(row)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """One (B, channels[b], H/2^b, W/2^b) map per branch -> the fused maps, same shapes; only
        the highest-resolution one (b = 0) where `multi_scale_output` is False."""
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        fused = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, self.num_branches):
                y = y + (xs[j] if i == j else row[j](xs[j]))
            fused.append(self.relu(y))
        return fused


@dataclass(frozen=True)
class HRNetSpec:
    """Published stage layout (modules per stage; 4 BasicBlocks per branch) and branch widths."""
    width: int
    modules: tuple[int, int, int] = (1, 4, 3)
    blocks: int = 4

    def channels(self, stage: int) -> tuple[int, ...]:
        """Branch widths of stage 2..4 (it has `stage` branches): width, 2 * width, 4 * width, ..."""
        return tuple(self.width * 2 ** b for b in range(stage))


def _make_transition(pre: tuple[int, ...], cur: tuple[int, ...]) -> nn.ModuleList:
    layers = nn.ModuleList()
    for i, c in enumerate(cur):
        if i < len(pre):
            layers.append(_conv_bn(pre[i], c, 3, 1, relu=True) if pre[i] != c else None)
        else:
            # New branch: strided 3x3 convs from the lowest existing resolution (one step per level).
            steps = [_conv_bn(pre[-1], c if k == i - len(pre) else pre[-1], 3, 2, relu=True)
                     for k in range(i + 1 - len(pre))]
            layers.append(nn.Sequential(*steps))
    return layers


class HRNet(nn.Module):
    """HRNet backbone; `forward` returns the stride-4 feature map of the last stage (the only one
    HigherHRNet and SimpleBaseline-style heads use)."""

    def __init__(self, spec: HRNetSpec):
        super().__init__()
        self.spec = spec
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_blocks(Bottleneck, 64, 64, 4)
        pre: tuple[int, ...] = (256,)
        for stage, num_modules in zip((2, 3, 4), spec.modules):
            cur = spec.channels(stage)
            setattr(self, f"transition{stage - 1}", _make_transition(pre, cur))
            # The last module of the last stage only produces the stride-4 output.
            setattr(self, f"stage{stage}", nn.Sequential(*(
                HighResolutionModule(cur, spec.blocks, multi_scale_output=not (stage == 4 and m == num_modules - 1))
                for m in range(num_modules))))
            pre = cur
        self.out_channels = spec.width

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, width, H/4, W/4), the last stage's highest-resolution branch."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            xs = [xs[i] if t is None else t(xs[min(i, len(xs) - 1)]) for i, t in enumerate(transition)]
            xs = getattr(self, f"stage{stage}")(xs)
        return xs[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, width, H/4, W/4) features; same as `forward_features`."""
        return self.forward_features(x)
