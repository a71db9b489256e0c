"""Mapping published mmpose RTMPose / DWPose checkpoints onto posekit's RTMPose."""
from __future__ import annotations

import pytest
import torch

from posekit.models.convert_mmpose import convert_mmpose_checkpoint
from posekit.models.official import load_mmpose_checkpoint
from posekit.models.zoo import build_model

# Key names and shapes of an mmpose rtmpose-t (COCO-17, 256x192) checkpoint, derived from the
# official module structure: mmdet CSPNeXt (ConvModule conv/bn, CSPLayer main/short/final_conv,
# CSPNeXtBlock conv1 + depthwise-separable conv2, ChannelAttention fc, SPPBottleneck conv1/conv2)
# and mmpose RTMCCHead (final_layer, mlp = ScaleNorm g + Linear, RTMCCBlock gau, cls_x/cls_y).
MMPOSE_RTMPOSE_T_KEYS = {
    "backbone.stem.0.conv.weight": (12, 3, 3, 3),
    "backbone.stem.0.bn.running_var": (12,),
    "backbone.stem.2.conv.weight": (24, 12, 3, 3),
    "backbone.stage1.0.conv.weight": (48, 24, 3, 3),
    "backbone.stage1.1.main_conv.conv.weight": (24, 48, 1, 1),
    "backbone.stage1.1.short_conv.bn.weight": (24,),
    "backbone.stage1.1.blocks.0.conv1.conv.weight": (24, 24, 3, 3),
    "backbone.stage1.1.blocks.0.conv2.depthwise_conv.conv.weight": (24, 1, 5, 5),
    "backbone.stage1.1.blocks.0.conv2.pointwise_conv.bn.num_batches_tracked": (),
    "backbone.stage1.1.attention.fc.weight": (48, 48, 1, 1),
    "backbone.stage1.1.attention.fc.bias": (48,),
    "backbone.stage1.1.final_conv.conv.weight": (48, 48, 1, 1),
    "backbone.stage4.0.conv.weight": (384, 192, 3, 3),
    "backbone.stage4.1.conv1.conv.weight": (192, 384, 1, 1),
    "backbone.stage4.1.conv2.conv.weight": (384, 768, 1, 1),
    "backbone.stage4.2.main_conv.conv.weight": (192, 384, 1, 1),
    "backbone.stage4.2.final_conv.bn.running_mean": (384,),
    "head.final_layer.weight": (17, 384, 7, 7),
    "head.final_layer.bias": (17,),
    "head.mlp.0.g": (1,),
    "head.mlp.1.weight": (256, 48),
    "head.gau.uv.weight": (1152, 256),
    "head.gau.gamma": (2, 128),
    "head.gau.beta": (2, 128),
    "head.gau.o.weight": (256, 512),
    "head.gau.ln.g": (1,),
    "head.gau.res_scale.scale": (256,),
    "head.cls_x.weight": (384, 256),
    "head.cls_y.weight": (512, 256),
}


@pytest.fixture(scope="module")
def published_like() -> dict[str, torch.Tensor]:
    """A state dict with mmpose's names and random values (no published file can be fetched here)."""
    torch.manual_seed(0)
    model = build_model("rtmpose-t")
    return {k: torch.randn_like(v.float()).to(v.dtype) if v.is_floating_point() else v
            for k, v in model.state_dict().items()}


def test_module_names_are_mmposes():
    state = build_model("rtmpose-t").state_dict()
    for key, shape in MMPOSE_RTMPOSE_T_KEYS.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    # No relative-position bias and no biases in the GAU/classifier linears (use_rel_bias=False, bias=False).
    assert not any(k.endswith(("gau.w", "gau.uv.bias", "cls_x.bias")) for k in state)


def _assert_loaded(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[key], msg=key)


def test_published_layout_loads_strictly(tmp_path, published_like):
    extra = {"data_preprocessor.mean": torch.zeros(3)}
    torch.save({"meta": {"epoch": 420}, "state_dict": {**published_like, **extra}}, tmp_path / "rtm.pth")
    model, info = load_mmpose_checkpoint(tmp_path / "rtm.pth", "rtmpose-t")
    assert info == {"model": "rtmpose-t", "keypoint_set": "coco17", "input_size": [192, 256]}
    _assert_loaded(model, published_like)


def test_ddp_prefix_and_384x288_and_wholebody(tmp_path):
    src = build_model("rtmpose-t", keypoint_set="coco_wholebody133", input_size=(288, 384)).state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.items()}}, tmp_path / "wb.pth")
    model, info = load_mmpose_checkpoint(tmp_path / "wb.pth", "rtmpose-t")
    assert info["keypoint_set"] == "coco_wholebody133" and info["input_size"] == [288, 384]
    _assert_loaded(model, src)


def test_dwpose_distiller_checkpoint_takes_student_or_teacher(tmp_path, published_like):
    teacher = build_model("rtmpose-s").state_dict()
    state = {**{f"student.{k}": v for k, v in published_like.items()},
             **{f"teacher.{k}": v for k, v in teacher.items()},
             "distill_losses.loss_fea.align.weight": torch.zeros(512, 384, 1, 1)}
    torch.save({"state_dict": state}, tmp_path / "dw.pth")
    student, _ = load_mmpose_checkpoint(tmp_path / "dw.pth", "rtmpose-t")
    _assert_loaded(student, published_like)
    teacher_model, _ = load_mmpose_checkpoint(tmp_path / "dw.pth", "rtmpose-s", part="teacher")
    _assert_loaded(teacher_model, teacher)


def test_mmcv_ema_buffers_and_ema_state_dict_are_ignored(published_like):
    # mmengine swaps the EMA weights into state_dict when saving; state_dict is what deploys.
    state = {**published_like, "ema_head_cls_x_weight": torch.zeros(384, 256)}
    ckpt = {"state_dict": state, "ema_state_dict": {"steps": torch.tensor(3), "module.head.cls_x.weight": torch.ones(1)}}
    converted = convert_mmpose_checkpoint(ckpt)
    assert converted.keys() == published_like.keys()


def test_errors_name_the_file_and_the_problem(tmp_path, published_like):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_mmpose_checkpoint(tmp_path / "missing.pth", "rtmpose-t")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth: not a checkpoint"):
        load_mmpose_checkpoint(tmp_path / "junk.pth", "rtmpose-t")
    torch.save({"state_dict": published_like}, tmp_path / "t.pth")
    with pytest.raises(ValueError, match="t.pth: does not fit rtmpose-m"):
        load_mmpose_checkpoint(tmp_path / "t.pth", "rtmpose-m")
    partial = {k: v for k, v in published_like.items() if k != "head.gau.gamma"}
    torch.save({"state_dict": partial}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="head.gau.gamma"):
        load_mmpose_checkpoint(tmp_path / "partial.pth", "rtmpose-t")
    torch.save({"state_dict": {"backbone.x": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not an RTMPose checkpoint"):
        load_mmpose_checkpoint(tmp_path / "other.pth", "rtmpose-t")


def test_cli_writes_a_checkpoint_that_eval_and_predict_load(tmp_path, published_like):
    import argparse

    from posekit.commands import convert
    from posekit.experiment import load_experiment

    torch.save({"state_dict": published_like}, tmp_path / "rtm.pth")
    parser = argparse.ArgumentParser(prog="posekit")
    convert.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["convert", "checkpoint", "mmpose", str(tmp_path / "rtm.pth"),
                              str(tmp_path / "rtm.pt"), "--model", "rtmpose-t"])
    assert args.run(args) == 0
    cfg, estimator = load_experiment(tmp_path / "rtm.pt")
    assert cfg.model.name == "rtmpose-t" and tuple(cfg.data.input_size) == (192, 256)
    assert estimator.codec.sigma == (4.9, 5.66)
    _assert_loaded(estimator.model, published_like)
