"""RTMPose: CSPNeXt backbone, GAU/RTMCC head, zoo entries."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from posekit.models.backbones.cspnext import CSPNeXt
from posekit.models.heads.gau import GatedAttentionUnit, ScaleNorm
from posekit.models.rtmpose import RTMPOSE_SIZES, RTMPose
from posekit.models.zoo import build_model, get_entry


def test_backbone_output_channels_and_stride():
    for size, channels in {"t": 384, "s": 512, "m": 768, "l": 1024, "x": 1280}.items():
        assert CSPNeXt(*RTMPOSE_SIZES[size]).out_channels == channels
    backbone = CSPNeXt(*RTMPOSE_SIZES["t"]).eval()
    with torch.no_grad():
        assert backbone(torch.zeros(1, 3, 64, 96)).shape == (1, 384, 2, 3)


def test_stage_depths_follow_the_deepen_factor():
    # blocks per CSP layer = max(round(n * deepen), 1) for n = 3, 6, 6, 3; stage 4 has the SPP.
    for size, expected in {"t": (1, 1, 1, 1), "s": (1, 2, 2, 1), "m": (2, 4, 4, 2), "l": (3, 6, 6, 3),
                           "x": (4, 8, 8, 4)}.items():
        backbone = CSPNeXt(*RTMPOSE_SIZES[size])
        depths = tuple(len(getattr(backbone, f"stage{i}")[-1].blocks) for i in range(1, 5))
        assert depths == expected, size
        assert [type(m).__name__ for m in backbone.stage4] == ["ConvBNAct", "SPPBottleneck", "CSPLayer"]


@pytest.mark.parametrize("input_size", [(192, 256), (288, 384)])
def test_rtmpose_outputs_simcc_logits(input_size):
    model = build_model("rtmpose-t", input_size=input_size).eval()
    with torch.no_grad():
        x, y = model(torch.randn(2, 3, input_size[1], input_size[0]))
    assert x.shape == (2, 17, input_size[0] * 2) and y.shape == (2, 17, input_size[1] * 2)


def test_any_keypoint_set_and_bad_sizes():
    model = build_model("rtmpose-t", keypoint_set="lsp14", input_size=(64, 96)).eval()
    with torch.no_grad():
        x, y = model(torch.randn(1, 3, 96, 64))
    assert x.shape == (1, 14, 128) and y.shape == (1, 14, 192)
    with pytest.raises(ValueError, match="divisible by 32"):
        RTMPose(17, (190, 256), *RTMPOSE_SIZES["t"])


def test_zoo_entries():
    for size in "tsmlx":
        entry = get_entry(f"rtmpose-{size}")
        assert entry.input_size == (192, 256) and entry.keypoint_set == "coco17"
        assert entry.codec["name"] == "simcc" and entry.codec["split_ratio"] == 2.0


def test_scale_norm():
    norm = ScaleNorm(4)
    x = torch.tensor([[3.0, 0.0, 4.0, 0.0]])
    # x / (||x|| / sqrt(4)) = x / 2.5
    torch.testing.assert_close(norm(x), x / 2.5)


def test_gau_matches_the_written_out_formula():
    torch.manual_seed(0)
    gau = GatedAttentionUnit(16, s=8, expansion=2).eval()
    x = torch.randn(2, 5, 16)
    # Written out independently: ScaleNorm, SiLU(uv), split, q/k affine, relu^2 kernel, gated output.
    normed = x / (x.norm(dim=-1, keepdim=True) / 4) * gau.ln.g
    uv = F.silu(normed @ gau.uv.weight.T)
    u, v, z = uv[..., :32], uv[..., 32:64], uv[..., 64:]
    q = z * gau.gamma[0] + gau.beta[0]
    k = z * gau.gamma[1] + gau.beta[1]
    kernel = torch.relu(torch.einsum("bns,bms->bnm", q, k) / math.sqrt(8)) ** 2
    expected = x * gau.res_scale.scale + (u * torch.einsum("bnm,bme->bne", kernel, v)) @ gau.o.weight.T
    torch.testing.assert_close(gau(x), expected, rtol=1e-5, atol=1e-5)


def test_training_step_reduces_the_loss():
    from posekit.models.losses.kl_discrete import KLDiscretLoss
    torch.manual_seed(0)
    model = build_model("rtmpose-t", input_size=(64, 64))
    images = torch.randn(2, 3, 64, 64)
    labels_x = F.one_hot(torch.randint(0, 128, (2, 17)), 128).float()
    labels_y = F.one_hot(torch.randint(0, 128, (2, 17)), 128).float()
    loss_fn, opt = KLDiscretLoss(), torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = loss_fn(*model(images), labels_x, labels_y, torch.ones(2, 17))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_onnx_export_matches_eager(tmp_path):
    import numpy as np
    import onnxruntime as ort

    from posekit.inference.onnx_export import export_onnx
    torch.manual_seed(0)
    model = build_model("rtmpose-t", input_size=(64, 96)).eval()
    for m in model.head.modules():  # O(1) logits, so the comparison is not trivially small
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()
    path = export_onnx(model, (64, 96), tmp_path / "t.onnx")
    assert model.training is False
    images = torch.randn(3, 3, 96, 64)  # batch 3 though exported at 1: the batch axis is dynamic
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["output0", "output1"]
    with torch.no_grad():
        expected = model(images)
    for got, want in zip(session.run(None, {"image": images.numpy()}), expected):
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4)


@pytest.mark.parametrize("size", ["t", "s", "m", "l"])
def test_coco_configs_carry_the_published_recipe(size):
    from pathlib import Path

    from posekit.config import load_config
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / f"rtmpose-{size}_coco-256x192.yaml")
    assert cfg.model.name == f"rtmpose-{size}" and cfg.codec.name == "simcc"
    assert tuple(cfg.data.input_size) == (192, 256) and cfg.data.keypoint_set == "coco17"
    assert cfg.train.lr == pytest.approx(4e-3 * cfg.data.batch_size / 2048)  # 4e-3 at total batch 2048, as published
    assert cfg.train.optimizer == "adamw" and cfg.train.no_decay_norm_bias
    assert cfg.train.weight_decay == (0.05 if size in "ml" else 0.0)
    assert cfg.train.ema == (size != "t") and cfg.train.epochs == 420
    assert cfg.train.warmup_iters == 1000 and cfg.train.min_lr_ratio == 0.05
    aug = cfg.data.augment
    assert tuple(aug.scale) == (0.6, 1.4) and aug.rotation == 80 and aug.hsv and aug.coarse_dropout == 1.0
