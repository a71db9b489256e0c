"""Pretrained starts: backbone-only weights in the layouts users have, and every network of a strategy."""
from __future__ import annotations

import pytest
import torch

from posekit.config import ConfigError
from posekit.estimators.topdown import build_topdown_estimator
from posekit.experiment import initialise_networks, load_pretrained
from posekit.models.backbones.resnet import ResNet


def _randomised(state: dict) -> dict:
    g = torch.Generator().manual_seed(0)
    return {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v for k, v in state.items()}


def test_torchvision_resnet_layout_loads_the_backbone(tmp_path):
    state = _randomised(ResNet(18).state_dict())
    state.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)})  # the classifier
    torch.save(state, tmp_path / "resnet18.pth")
    est = build_topdown_estimator("simplebaseline-res18", "lsp14", (64, 64))
    report = load_pretrained(est, str(tmp_path / "resnet18.pth"))
    assert "torchvision/timm ResNet backbone weights" in report and "0 missing, 0 unexpected" in report
    assert torch.equal(est.model.backbone.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])


def test_mmdet_cspnext_layout_loads_the_backbone(tmp_path):
    est = build_topdown_estimator("rtmpose-t", "coco17", (64, 64))
    backbone = _randomised(est.model.backbone.state_dict())
    ckpt = {"meta": {"epoch": 300}, "state_dict": {**{f"backbone.{k}": v for k, v in backbone.items()},
                                                  "neck.reduce.weight": torch.zeros(3), "bbox_head.cls.weight": torch.zeros(2)}}
    torch.save(ckpt, tmp_path / "cspnext-t.pth")
    head_before = est.model.head.final_layer.weight.clone()
    report = load_pretrained(est, str(tmp_path / "cspnext-t.pth"))
    assert "mmdet/mmpose backbone weights" in report and "0 missing" in report
    key = next(k for k in backbone if k.endswith("conv.weight"))
    assert torch.equal(est.model.backbone.state_dict()[key], backbone[key])
    assert torch.equal(est.model.head.final_layer.weight, head_before)  # backbone only


def test_hrnet_imagenet_layout_loads_the_shared_part(tmp_path):
    from posekit.models.zoo import build_model
    model = build_model("higherhrnet-w32", "coco17", (256, 256))
    shared = {k: v for k, v in _randomised(model.state_dict()).items()
              if not k.startswith(("final_layers", "deconv_layers"))}
    shared.update({"incre_modules.0.0.conv1.weight": torch.zeros(1), "classifier.weight": torch.zeros(1000, 2048)})
    torch.save(shared, tmp_path / "hrnet_w32_imagenet.pth")

    class Holder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
    report = load_pretrained(Holder(), str(tmp_path / "hrnet_w32_imagenet.pth"))
    assert "HRNet backbone weights" in report and "0 unexpected" in report
    assert torch.equal(model.stage3[0].branches[1][0].conv1.weight, shared["stage3.0.branches.1.0.conv1.weight"])


def test_shape_mismatch_and_unknown_layouts_are_clear_errors(tmp_path):
    torch.save(ResNet(50).state_dict(), tmp_path / "resnet50.pth")
    est = build_topdown_estimator("simplebaseline-res18", "lsp14", (64, 64))
    with pytest.raises(ValueError, match=r"resnet50.pth: 'layer1.0.conv1.weight' has shape"):
        load_pretrained(est, str(tmp_path / "resnet50.pth"))
    torch.save({"encoder.w": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a backbone layout"):
        load_pretrained(est, str(tmp_path / "other.pth"))


def test_every_network_of_a_strategy_is_initialised(tmp_path):
    from posekit.config import ExperimentConfig, from_dict
    from posekit.training.checkpoint import save_checkpoint
    nets = {n: build_topdown_estimator("simplebaseline-res18", "lsp14", (64, 64)) for n in ("student", "teacher1", "teacher2")}
    source = build_topdown_estimator("simplebaseline-res18", "lsp14", (64, 64))
    path = tmp_path / "start.pt"
    save_checkpoint({"strategy": {}, "estimator": _randomised(source.state_dict()), "metadata": {}}, path)
    resnet = _randomised(ResNet(18).state_dict())
    torch.save(resnet, tmp_path / "r18.pth")
    cfg = from_dict(ExperimentConfig, {"strategy": "sspcm", "model": {
        "name": "simplebaseline-res18", "pretrained": str(path), "network_pretrained": {"teacher2": str(tmp_path / "r18.pth")}}})
    reports = initialise_networks(cfg, nets)
    assert len(reports) == 3
    expected = torch.load(path, weights_only=True)["estimator"]["model.final_layer.weight"]
    assert torch.equal(nets["student"].model.final_layer.weight, expected)
    assert torch.equal(nets["teacher1"].model.final_layer.weight, expected)
    assert torch.equal(nets["teacher2"].model.backbone.conv1.weight, resnet["conv1.weight"])
    assert not torch.equal(nets["teacher2"].model.final_layer.weight, expected)  # backbone only
    bad = from_dict(ExperimentConfig, {"strategy": "sspcm", "model": {"network_pretrained": {"net1": "x.pt"}}})
    with pytest.raises(ConfigError, match="network_pretrained.net1.*student, teacher1, teacher2"):
        initialise_networks(bad, nets)
