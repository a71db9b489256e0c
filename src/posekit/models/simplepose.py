"""Simple Pose (Li et al., AAAI 2020): the IMHN network (`models/posenet.py` of the official code).

Stem (256 channels at stride 4) -> `nstack` hourglasses of depth 4, each emitting 5 scales. Per
scale a head Conv3x3 -> Conv3x3 -> SE(16) and a 1x1 conv to the output channels (body-part maps,
keypoint maps, person mask, background). Between stacks, 1x1 merges of the scale-0 features and
predictions are added to the next stack's input, and the merges at every scale are added to the
next hourglass's features of that scale (cross-stack residuals).

forward returns per stack a list of 5 maps (finest first); inference uses the last stack's finest.

input_format: posekit feeds every model ImageNet-normalised RGB; the official network was trained on
BGR / 255, so its converted weights are built with input_format="bgr01", which maps posekit's input
back to that before the stem (no weights, nothing in the state dict).
"""
from __future__ import annotations

import torch
from torch import nn

from posekit.codecs import build_codec
from posekit.data.datasets import IMAGENET_MEAN, IMAGENET_STD
from posekit.models.backbones.hourglass import ConvBlock, Hourglass, SELayer, Stem
from posekit.models.zoo import SIMPLEPOSE, register_model


INPUT_FORMATS = ("imagenet_rgb", "bgr01")


class IMHN(nn.Module):
    """The stacked identity-mapping hourglass network; `out_channels` from `simplepose_channels`,
    `input_format` as in the module docstring."""

    def __init__(self, out_channels: int, nstack: int = 4, width: int = 256, increase: int = 128,
                 depth: int = 4, stem_first: int = 64, input_format: str = "imagenet_rgb"):
        super().__init__()
        if input_format not in INPUT_FORMATS:
            raise ValueError(f"simplepose: input_format must be one of {', '.join(INPUT_FORMATS)}, "
                             f"got '{input_format}'")
        self.nstack, self.num_scales = nstack, depth + 1
        self.input_format = input_format
        if input_format == "bgr01":  # x * std + mean undoes the normalisation, on the 0..1 scale
            for name, value in (("input_scale", IMAGENET_STD), ("input_shift", IMAGENET_MEAN)):
                self.register_buffer(name, torch.from_numpy(value / 255.0).view(1, 3, 1, 1), persistent=False)
        self.stem = Stem(width // 2, stem_first)
        scales = range(self.num_scales)
        self.hourglass = nn.ModuleList([Hourglass(depth, width, increase) for _ in range(nstack)])
        self.features = nn.ModuleList([nn.ModuleList([
            nn.Sequential(ConvBlock(width + s * increase, width, 3), ConvBlock(width, width, 3), SELayer(width))
            for s in scales]) for _ in range(nstack)])
        self.outs = nn.ModuleList([nn.ModuleList([ConvBlock(width, out_channels, 1, bn=False, act=False)
                                                  for _ in scales]) for _ in range(nstack)])
        self.merge_features = nn.ModuleList([nn.ModuleList([ConvBlock(width, width + s * increase, 1, act=False)
                                                            for s in scales]) for _ in range(nstack - 1)])
        self.merge_preds = nn.ModuleList([nn.ModuleList([ConvBlock(out_channels, width + s * increase, 1, act=False)
                                                         for s in scales]) for _ in range(nstack - 1)])
        self._init_weights()

    def _init_weights(self) -> None:
        # published: conv N(0, 0.001), linear N(0, 0.01), zero biases, BN 1/0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        """(B, 3, H, W) ImageNet-normalised images -> per stack, depth + 1 maps; scale s is
        (B, out_channels, H/4/2^s, W/4/2^s)."""
        if self.input_format == "bgr01":
            images = (images * self.input_scale + self.input_shift).flip(1)
        x = self.stem(images)
        cache: list[torch.Tensor] | None = None
        preds = []
        for i in range(self.nstack):
            feats = self.hourglass[i](x)
            if cache is not None:
                feats = [f + c for f, c in zip(feats, cache)]
            heads = [self.features[i][s](feats[s]) for s in range(self.num_scales)]
            outs = [self.outs[i][s](heads[s]) for s in range(self.num_scales)]
            if i < self.nstack - 1:
                merged = [(self.merge_preds[i][s](outs[s]), self.merge_features[i][s](heads[s]))
                          for s in range(self.num_scales)]
                cache = [p + f for p, f in merged]
                x = x + merged[0][0] + merged[0][1]  # the official summation order: bit-identical outputs
            preds.append(outs)
        return preds


def simplepose_channels(keypoint_set: str) -> int:
    """Output channels for a keypoint set: limbs + internal keypoints + mask + background."""
    codec = build_codec("simplepose", keypoint_set=keypoint_set, input_size=(128, 128))
    return codec.num_channels


def _builder(nstack: int, width: int, increase: int, stem_first: int):
    def build(num_keypoints: int, input_size: tuple[int, int], output_channels: int, nstack: int = nstack,
              width: int = width, increase: int = increase, depth: int = 4, stem_first: int = stem_first,
              input_format: str = "imagenet_rgb") -> nn.Module:
        """The IMHN whose output channels are its codec's layout (`output_channels`, supplied by the
        zoo from the experiment's body-part codec: limbs of the keypoint set + keypoints + 2), so
        model and codec cannot disagree."""
        return IMHN(output_channels, nstack=nstack, width=width, increase=increase, depth=depth,
                    stem_first=stem_first, input_format=input_format)
    return build


_CODEC = {"name": "simplepose", "stride": 4, "sigma": 9.0, "limb_sigma": 7.0}

register_model("simplepose-imhn", estimator=SIMPLEPOSE, input_size=(512, 512), keypoint_set="coco17",
               codec=_CODEC, description="Simple Pose IMHN: 4 stacks, depth 4, 256+128k channels, "
               "30 body parts + 18 keypoints + 2")(_builder(4, 256, 128, 64))
register_model("simplepose-imhn-s", estimator=SIMPLEPOSE, input_size=(256, 256), keypoint_set="coco17",
               codec=_CODEC, description="small IMHN for CPU runs: 2 stacks, 64+32k channels")(
    _builder(2, 64, 32, 16))
