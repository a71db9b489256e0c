"""HigherHRNet: published parameter/MAC counts, output layout and official checkpoint key names."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from posekit.models.higherhrnet import HigherHRNet
from posekit.models.zoo import build_model, get_entry


def _meta_model(width: int) -> HigherHRNet:
    with torch.device("meta"):
        return HigherHRNet(17, width=width).eval()


def published_macs(model: nn.Module, size: int) -> int:
    """The official `get_model_summary` convention: every conv counts weight.numel() x output H x W
    (for the stride-2 deconvolution that is 4x its true multiply-accumulates)."""
    total = 0

    def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += module.weight.numel() * output.shape[2] * output.shape[3]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size, device="meta"))
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("width,size,params_m,gmacs", [(32, 512, 28.6, 47.9), (32, 640, 28.6, 74.8), (48, 640, 63.8, 154.3)])
def test_published_params_and_macs(width: int, size: int, params_m: float, gmacs: float) -> None:
    model = _meta_model(width)
    params = sum(p.numel() for p in model.parameters())
    assert abs(params / 1e6 - params_m) / params_m < 0.01
    assert abs(published_macs(model, size) / 1e9 - gmacs) / gmacs < 0.03


def test_true_macs_differ_from_published_only_by_the_deconv_convention() -> None:
    model = _meta_model(32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 512, 512, device="meta"))
    true_macs = counter.get_total_flops() / 2
    deconv = model.deconv_layers[0][0][0]
    deconv_true = deconv.weight.numel() * 128 * 128  # one MAC per weight per input pixel
    assert published_macs(model, 512) - true_macs == pytest.approx(3 * deconv_true, rel=1e-6)


def test_output_layout_and_zoo() -> None:
    model = build_model("higherhrnet-w32", input_size=(64, 64), width=8).eval()  # narrow: layout only
    with torch.no_grad():
        quarter, half = model(torch.zeros(1, 3, 64, 96))
    assert quarter.shape == (1, 34, 16, 24) and half.shape == (1, 17, 32, 48)  # 1/4: heatmaps + tags; 1/2: heatmaps
    assert get_entry("higherhrnet-w48").input_size == (640, 640)
    assert get_entry("higherhrnet-w32-640").codec["name"] == "associative_embedding"
    with torch.device("meta"):
        crowd = build_model("higherhrnet-w32", keypoint_set="crowdpose14", input_size=(64, 64))
    assert crowd.final_layers[0].out_channels == 28 and crowd.final_layers[1].out_channels == 14


def test_state_dict_uses_official_key_names() -> None:
    keys = set(_meta_model(32).state_dict())
    for key in ("conv1.weight", "bn2.running_var", "layer1.0.downsample.0.weight", "layer1.3.conv3.weight",
                "transition1.0.0.weight", "transition1.1.0.0.weight", "transition2.2.0.0.weight",
                "transition3.3.0.1.running_mean", "stage2.0.branches.1.3.conv2.weight",
                "stage3.3.fuse_layers.2.0.1.0.weight", "stage3.0.fuse_layers.0.2.1.weight",
                "stage4.2.fuse_layers.0.3.0.weight", "final_layers.0.weight", "final_layers.1.bias",
                "deconv_layers.0.0.0.weight", "deconv_layers.0.0.1.running_mean", "deconv_layers.0.4.0.conv2.weight"):
        assert key in keys, key
    # The last stage-4 module only fuses into the stride-4 branch, as the published model.
    assert not any(k.startswith("stage4.2.fuse_layers.1") for k in keys)
    assert any(k.startswith("stage4.1.fuse_layers.3") for k in keys)
