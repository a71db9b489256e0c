"""SimpleBaseline (Xiao et al. 2018): ResNet + three 4x4 stride-2 deconvolutions + a 1x1 conv.

The base network of PoseDual and SSPCM. Input 256x192 gives 64x48 heatmaps (stride 4).
"""
from __future__ import annotations

import torch
from torch import nn

from posekit.models.backbones.resnet import ResNet
from posekit.models.zoo import TOPDOWN, register_model


class SimpleBaseline(nn.Module):
    """ResNet-`depth` + `num_deconv` deconvolutions (each doubling the size) + 1x1 conv to K heatmaps.

    `features` and `head` split the forward pass so that strategies can reuse the backbone output.
    """

    def __init__(self, num_keypoints: int, depth: int = 50, deconv_channels: int = 256, num_deconv: int = 3):
        super().__init__()
        self.backbone = ResNet(depth)
        layers: list[nn.Module] = []
        channels = self.backbone.out_channels
        for _ in range(num_deconv):
            layers += [
                nn.ConvTranspose2d(channels, deconv_channels, 4, stride=2, padding=1, output_padding=0, bias=False),
                nn.BatchNorm2d(deconv_channels),
                nn.ReLU(inplace=True),
            ]
            channels = deconv_channels
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(channels, num_keypoints, 1)
        # The published initialisation of the head: N(0, 0.001) weights, zero bias.
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, C, H/32, W/32) backbone features (C 512 or 2048)."""
        return self.backbone(x)

    def head(self, feature: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) features -> (B, K, h * 2^num_deconv, w * 2^num_deconv) heatmaps."""
        return self.final_layer(self.deconv_layers(feature))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, K, H/4, W/4) heatmaps (with the default 3 deconvolutions)."""
        return self.head(self.features(x))


# Heatmaps at stride 4 of whatever input size is chosen; UDP encoding with DARK decoding.
HEATMAP_CODEC = {"name": "heatmap", "output_stride": 4, "sigma": 2.0, "mode": "udp", "refine": "dark"}


for _depth in (18, 50, 101):
    def _builder(num_keypoints: int, input_size: tuple[int, int], depth: int = _depth, deconv_channels: int = 256,
                 num_deconv: int = 3) -> nn.Module:
        return SimpleBaseline(num_keypoints, depth=depth, deconv_channels=deconv_channels, num_deconv=num_deconv)

    register_model(f"simplebaseline-res{_depth}", estimator=TOPDOWN, input_size=(192, 256), keypoint_set="coco17",
                   codec=HEATMAP_CODEC,
                   description=f"SimpleBaseline ResNet-{_depth} + 3 deconvs (heatmaps at stride 4)")(_builder)
