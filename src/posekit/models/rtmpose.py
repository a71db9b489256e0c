"""RTMPose: CSPNeXt P5 backbone + RTMCC head, predicting SimCC x/y logits.

Zoo names rtmpose-t|s|m|l|x; any input size divisible by 32 (256x192 and 384x288 are the
published ones) and any keypoint set.
"""
from __future__ import annotations

import torch
from torch import nn

from posekit.models.backbones.cspnext import CSPNeXt
from posekit.models.heads.rtmcc import RTMCCHead
from posekit.models.zoo import register_model

# deepen_factor, widen_factor per size (mmpose rtmpose-*_8xb256-420e configs).
RTMPOSE_SIZES = {"t": (0.167, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}
SPLIT_RATIO = 2.0
# Sigma is derived from the input size by the codec (4.9/5.66 at 256x192, 6.0/6.93 at 384x288).
SIMCC_CODEC = {"name": "simcc", "split_ratio": SPLIT_RATIO, "normalize": False}


class RTMPose(nn.Module):
    def __init__(self, num_keypoints: int, input_size: tuple[int, int], deepen_factor: float,
                 widen_factor: float, split_ratio: float = SPLIT_RATIO, dropout: float = 0.0):
        super().__init__()
        w, h = input_size
        if w % 32 or h % 32:
            raise ValueError(f"RTMPose input size {w}x{h} (w x h) must be divisible by 32 (stride-32 backbone)")
        self.backbone = CSPNeXt(deepen_factor, widen_factor)
        self.head = RTMCCHead(self.backbone.out_channels, num_keypoints, (w, h), (w // 32, h // 32),
                              split_ratio=split_ratio, dropout=dropout)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> x logits (B, K, W*split), y logits (B, K, H*split)."""
        return self.head(self.backbone(images))


def _register(size: str, factors: tuple[float, float]) -> None:
    def build(num_keypoints: int, input_size: tuple[int, int], **params) -> nn.Module:
        return RTMPose(num_keypoints, input_size, *factors, **params)

    register_model(f"rtmpose-{size}", paradigm="topdown", input_size=(192, 256), keypoint_set="coco17",
                   codec=SIMCC_CODEC,
                   description=f"RTMPose-{size}: CSPNeXt (d {factors[0]}, w {factors[1]}) + RTMCC/GAU head, SimCC")(build)


for _size, _factors in RTMPOSE_SIZES.items():
    _register(_size, _factors)
