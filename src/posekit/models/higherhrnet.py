"""HigherHRNet (Cheng et al. 2020): HRNet + a higher-resolution module, trained with associative
embedding.

Outputs a list of two tensors: at 1/4 resolution K heatmaps followed by K tag maps (one tag per
joint), and at 1/2 resolution K heatmaps. The 1/2 branch concatenates the stride-4 features with the
1/4 predictions, upsamples with a 4x4 stride-2 deconvolution (+BN+ReLU), refines with four
BasicBlocks and predicts with a 1x1 conv. Names follow the official `pose_higher_hrnet.py`
(final_layers, deconv_layers) so the published checkpoints load with strict=True.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from posekit.models.backbones.hrnet import BN_MOMENTUM, BasicBlock, HRNet, HRNetSpec
from posekit.models.zoo import ASSOCIATIVE_EMBEDDING, register_model

AE_CODEC = {"name": "associative_embedding"}


class HigherHRNet(HRNet):
    """HRNet-W`width` with HigherHRNet's two AE outputs; `num_deconv_blocks` BasicBlocks refine the
    upsampled 1/2-resolution features."""

    def __init__(self, num_keypoints: int, width: int = 32, num_deconv_blocks: int = 4):
        super().__init__(HRNetSpec(width))
        self.num_keypoints = num_keypoints
        with_tags = num_keypoints * 2  # heatmaps + one tag map per joint, at 1/4 only
        self.final_layers = nn.ModuleList([nn.Conv2d(width, with_tags, 1), nn.Conv2d(width, num_keypoints, 1)])
        deconv = nn.Sequential(
            nn.Sequential(nn.ConvTranspose2d(width + with_tags, width, 4, stride=2, padding=1, output_padding=0,
                                             bias=False),
                          nn.BatchNorm2d(width, momentum=BN_MOMENTUM),
                          nn.ReLU(inplace=True)),
            *(nn.Sequential(BasicBlock(width, width)) for _ in range(num_deconv_blocks)))
        self.deconv_layers = nn.ModuleList([deconv])
        self._init_weights()

    def _init_weights(self) -> None:
        # As the official code: normal(0, 0.001) convs, zero biases, BN at identity.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) images -> [(B, 2K, H/4, W/4) heatmaps then tags, (B, K, H/2, W/2) heatmaps]."""
        features = self.forward_features(x)
        quarter = self.final_layers[0](features)
        half = self.final_layers[1](self.deconv_layers[0](torch.cat((features, quarter), 1)))
        return [quarter, half]


def load_official_checkpoint(model: HigherHRNet, path: str | Path) -> None:
    """Load an official HigherHRNet file in any form its training code writes (posekit.models.official:
    bare, DataParallel `module.`, FP16 `1.` prefixes, the training checkpoint's `state_dict`)."""
    from posekit.models.official import higherhrnet_state, read_checkpoint
    checkpoint = read_checkpoint(path)  # its errors name the file
    try:
        model.load_state_dict(higherhrnet_state(checkpoint), strict=True)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"{path}: {' '.join(str(exc).split())[:300]}") from None


def _check_size(input_size: tuple[int, int]) -> None:
    if any(s % 32 for s in input_size):
        raise ValueError(f"HigherHRNet input size {input_size} must be a multiple of 32 (stride-32 branch)")


@register_model("higherhrnet-w32", estimator=ASSOCIATIVE_EMBEDDING, input_size=(512, 512), keypoint_set="coco17",
                codec=AE_CODEC, description="HigherHRNet-W32, associative embedding, 28.6M params")
def higherhrnet_w32(num_keypoints: int, input_size: tuple[int, int], width: int = 32) -> HigherHRNet:
    """Zoo builder: HigherHRNet-W32 (`width` overrides it) for a (w, h) input, sides multiples of 32."""
    _check_size(input_size)
    return HigherHRNet(num_keypoints, width=width)


@register_model("higherhrnet-w32-640", estimator=ASSOCIATIVE_EMBEDDING, input_size=(640, 640), keypoint_set="coco17",
                codec=AE_CODEC, description="HigherHRNet-W32 at 640 input")
def higherhrnet_w32_640(num_keypoints: int, input_size: tuple[int, int]) -> HigherHRNet:
    """Zoo builder: the same network as higherhrnet-w32, registered with a 640x640 default input."""
    _check_size(input_size)
    return HigherHRNet(num_keypoints, width=32)


@register_model("higherhrnet-w48", estimator=ASSOCIATIVE_EMBEDDING, input_size=(640, 640), keypoint_set="coco17",
                codec=AE_CODEC, description="HigherHRNet-W48, associative embedding, 63.8M params")
def higherhrnet_w48(num_keypoints: int, input_size: tuple[int, int]) -> HigherHRNet:
    """Zoo builder: HigherHRNet-W48 for a (w, h) input whose sides are multiples of 32."""
    _check_size(input_size)
    return HigherHRNet(num_keypoints, width=48)
