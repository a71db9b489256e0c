"""RTMPose: CSPNeXt P5 backbone + RTMCC head, predicting SimCC x/y logits.

Zoo names rtmpose-t|s|m|l|x; any input size divisible by 32 (256x192 and 384x288 are the
published ones) and any keypoint set.
"""
from __future__ import annotations

import torch
from torch import nn

from posekit.codecs.simcc import SimCCCodec
from posekit.models.backbones.cspnext import CSPNeXt
from posekit.models.heads.rtmcc import RTMCCHead
from posekit.models.zoo import TOPDOWN, register_model

# deepen_factor, widen_factor per size (mmpose rtmpose-*_8xb256-420e configs).
RTMPOSE_SIZES = {"t": (0.167, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}
# Sigma is derived from the input size by the codec (4.9/5.66 at 256x192, 6.0/6.93 at 384x288). The
# split ratio is the codec's alone: the head takes its bin counts from the codec's output_size.
SIMCC_CODEC = {"name": "simcc", "split_ratio": 2.0, "normalize": False}


class RTMPose(nn.Module):
    """Top-down RTMPose: a CSPNeXt backbone scaled by deepen/widen factors and an RTMCC head."""

    def __init__(self, num_keypoints: int, input_size: tuple[int, int], deepen_factor: float,
                 widen_factor: float, simcc_bins: tuple[int, int] | None = None, dropout: float = 0.0):
        """simcc_bins (x, y): the SimCC codec's output_size; None: that of the SimCC codec's defaults."""
        super().__init__()
        w, h = input_size
        if w % 32 or h % 32:
            raise ValueError(f"RTMPose input size {w}x{h} (w x h) must be divisible by 32 (stride-32 backbone)")
        bins = simcc_bins if simcc_bins is not None else SimCCCodec((w, h)).output_size
        self.backbone = CSPNeXt(deepen_factor, widen_factor)
        self.head = RTMCCHead(self.backbone.out_channels, num_keypoints, bins, (w // 32, h // 32), dropout=dropout)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> x logits (B, K, Wx), y logits (B, K, Wy): Wx, Wy the codec's bins."""
        return self.head(self.backbone(images))


def _register(size: str, factors: tuple[float, float]) -> None:
    def build(num_keypoints: int, input_size: tuple[int, int], output_size: tuple[int, int],
              dropout: float = 0.0) -> nn.Module:
        return RTMPose(num_keypoints, input_size, *factors, simcc_bins=output_size, dropout=dropout)

    register_model(f"rtmpose-{size}", estimator=TOPDOWN, input_size=(192, 256), keypoint_set="coco17",
                   codec=SIMCC_CODEC, moved_params={"split_ratio": "codec.params.split_ratio"},
                   description=f"RTMPose-{size}: CSPNeXt (d {factors[0]}, w {factors[1]}) + RTMCC/GAU head, SimCC")(build)


for _size, _factors in RTMPOSE_SIZES.items():
    _register(_size, _factors)
