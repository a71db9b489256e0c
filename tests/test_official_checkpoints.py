"""Official checkpoints in every form their training code writes: format detection, unwrapping, the
Simple Pose key map, DWPose stage-2 merging, and loading through posekit.load / convert checkpoint.

The official names and shapes in tests/data/official_keys were written from the official model code by
`benchmarks/official_equivalence.py --write-keys`, which also compares the networks' outputs."""
from __future__ import annotations

import argparse
import gzip
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from posekit.models.convert_simplepose import convert_simplepose_state, posekit_name
from posekit.models.official import convert_official, detect_format, higherhrnet_state, read_checkpoint
from posekit.models.zoo import build_model, list_models

KEYS = Path(__file__).with_name("data") / "official_keys"


def official_shapes(name: str) -> dict[str, tuple[int, ...]]:
    with gzip.open(KEYS / f"{name}.txt.gz", "rt") as f:
        rows = [line.split() for line in f if line.strip()]
    return {k: () if s == "-" else tuple(int(d) for d in s.split("x")) for k, s in rows}


def meta_state(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Tensors with these shapes and no storage: enough for detection and zoo matching."""
    return {k: torch.empty(s, device="meta", dtype=torch.int64 if k.endswith("num_batches_tracked") else torch.float32)
            for k, s in shapes.items()}


def tiny_state(names, seed: int = 0) -> dict[str, torch.Tensor]:
    """One distinct value per name: enough to follow each tensor through a conversion."""
    values = torch.randn(len(names), generator=torch.Generator().manual_seed(seed))
    return {k: values[i:i + 1].clone() for i, k in enumerate(names)}


def meta_shapes(model_name: str, **kwargs) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in build_model(model_name, **kwargs).state_dict().items()}


def run_cli(argv: list[str]) -> int:
    from posekit.commands import convert
    parser = argparse.ArgumentParser(prog="posekit")
    convert.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(argv)
    return args.run(args)


def assert_state(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    state = model.state_dict()
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


# ------------------------------------------------------------------------------------ DWPose / MMPose
def _random_like(model_name: str, seed: int, **kwargs) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
            for k, v in build_model(model_name, **kwargs).state_dict().items()}


def test_stage2_distiller_file_deploys_teacher_backbone_with_student_head(tmp_path, capsys):
    student, teacher = _random_like("rtmpose-t", 1), _random_like("rtmpose-t", 2)  # same names, same shapes
    state = {**{f"student.{k}": v for k, v in student.items()}, **{f"teacher.{k}": v for k, v in teacher.items()},
             "student.data_preprocessor.mean": torch.zeros(3), "teacher.data_preprocessor.mean": torch.zeros(3)}
    path = tmp_path / "dw_stage2.pth"
    torch.save({"meta": {"epoch": 60}, "state_dict": state}, path)
    merged = {k: (teacher if k.startswith("backbone.") else student)[k] for k in student}
    assert any(k.startswith("backbone.") for k in merged) and any(k.startswith("head.") for k in merged)

    assert run_cli(["convert", "checkpoint", "mmpose", str(path), str(tmp_path / "m.pt")]) == 0
    assert "note: stage-2" in capsys.readouterr().out
    from posekit.experiment import load_experiment
    cfg, estimator = load_experiment(tmp_path / "m.pt")
    assert cfg.model.name == "rtmpose-t"  # read from the shapes: no --model needed
    assert_state(estimator.model, merged)
    assert_state(posekit.load("rtmpose-t", weights=path).estimator.model, merged)
    for part, expected in (("student", student), ("teacher", teacher)):
        assert run_cli(["convert", "checkpoint", "mmpose", str(path), str(tmp_path / f"{part}.pt"),
                        "--part", part]) == 0
        assert_state(load_experiment(tmp_path / f"{part}.pt")[1].model, expected)


def test_stage1_distiller_file_defaults_to_the_student(tmp_path):
    student, teacher = _random_like("rtmpose-t", 3), _random_like("rtmpose-s", 4)
    checkpoint = {"state_dict": {**{f"student.{k}": v for k, v in student.items()},
                                 **{f"teacher.{k}": v for k, v in teacher.items()},
                                 "distill_losses.loss_fea.alignment_conv.weight": torch.zeros(512, 384, 1, 1)}}
    weights = convert_official(checkpoint)
    assert weights.format == "mmpose" and weights.model == "rtmpose-t" and "student" in weights.note
    assert weights.state.keys() == student.keys()
    assert all(torch.equal(weights.state[k], v) for k, v in student.items())
    assert convert_official(checkpoint, part="teacher").model == "rtmpose-s"
    path = tmp_path / "dw_stage1.pth"
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match="dw_stage1.pth: ") as error:  # s backbone + t head: no such network
        run_cli(["convert", "checkpoint", "mmpose", str(path), str(tmp_path / "x.pt"), "--part", "merged"])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", [e.name for e in list_models() if e.name.startswith("rtmpose-")])
def test_mmpose_model_is_read_from_the_shapes(name):
    wholebody = meta_state(meta_shapes(name, keypoint_set="coco_wholebody133", input_size=(288, 384)))
    weights = convert_official({"state_dict": {f"module.{k}": v for k, v in wholebody.items()}})
    assert (weights.model, weights.keypoint_set, weights.input_size) == (name, "coco_wholebody133", (288, 384))


# ---------------------------------------------------------------------------------------- HigherHRNet
@pytest.mark.parametrize("keys, keypoint_set", [("higherhrnet_w32_coco17", "coco17"),
                                                ("higherhrnet_w32_crowdpose14", "crowdpose14")])
def test_higherhrnet_names_and_shapes_are_the_officials(keys, keypoint_set):
    official = official_shapes(keys)
    assert len(official) == 1810
    assert meta_shapes("higherhrnet-w32", keypoint_set=keypoint_set) == official
    weights = convert_official(meta_state(official))
    assert (weights.format, weights.model, weights.keypoint_set, weights.input_size) == \
        ("higherhrnet", "higherhrnet-w32", keypoint_set, (512, 512))
    assert convert_official(meta_state(official), model="higherhrnet-w32-640").input_size == (640, 640)
    with pytest.raises(ValueError, match="not weights for 'rtmpose-m'"):
        convert_official(meta_state(official), model="rtmpose-m")
    odd = {**official, "final_layers.0.weight": (official["final_layers.0.weight"][0], 31, 1, 1)}
    with pytest.raises(ValueError, match=r"match no higherhrnet-\* zoo model \(nearest: higherhrnet-w32.*final_layers"):
        convert_official(meta_state(odd))


def _fake_loss_scaler() -> tuple[type, list[str]]:
    """A stand-in for the official lib/fp16_utils DynamicLossScaler, which an FP16 run pickles into
    checkpoint.pth.tar's optimizer entry; importable only while the test saves it."""
    names = ["fp16_utils", "fp16_utils.loss_scaler"]
    for name in names:
        sys.modules[name] = types.ModuleType(name)

    class DynamicLossScaler:
        def __init__(self) -> None:
            self.cur_scale = 2.0 ** 32

        def __setstate__(self, state):
            raise AssertionError("the loss scaler's state was run")

    DynamicLossScaler.__module__, DynamicLossScaler.__qualname__ = "fp16_utils.loss_scaler", "DynamicLossScaler"
    sys.modules["fp16_utils.loss_scaler"].DynamicLossScaler = DynamicLossScaler
    return DynamicLossScaler, names


def test_higherhrnet_forms_unwrap_to_the_same_weights(tmp_path):
    state = tiny_state(official_shapes("higherhrnet_w32_coco17"))
    # network_to_half: float16 everywhere but BatchNorm (which of the tiny tensors is which does not matter)
    half = {f"1.{k}": v.half() if not k.endswith(("running_mean", "running_var")) else v for k, v in state.items()}
    scaler_cls, names = _fake_loss_scaler()
    try:
        forms = {
            "bare": (state, state),
            "checkpoint": ({"epoch": 3, "model": "pose_higher_hrnet", "perf": 0.5,
                            "state_dict": {f"module.{k}": v for k, v in state.items()}, "best_state_dict": state,
                            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]}}, state),
            "fp16": (half, {k[2:]: v.float() for k, v in half.items()}),
            "fp16_checkpoint": ({"epoch": 3, "model": "pose_higher_hrnet", "perf": 0.5,
                                 "state_dict": {f"module.{k}": v for k, v in half.items()}, "best_state_dict": half,
                                 "optimizer": {"loss_scaler": scaler_cls(), "dynamic_loss_scale": True,
                                               "fp32_from_fp16": [[torch.zeros(2)]]}},
                                {k[2:]: v.float() for k, v in half.items()}),
        }
        for name, (content, _) in forms.items():
            torch.save(content, tmp_path / f"{name}.pth")
    finally:
        for name in names:
            sys.modules.pop(name, None)
    for name, (_, expected) in forms.items():
        checkpoint = read_checkpoint(tmp_path / f"{name}.pth")
        assert detect_format(checkpoint) == "higherhrnet", name
        converted = higherhrnet_state(checkpoint)
        assert converted.keys() == expected.keys() and all(v.dtype != torch.float16 for v in converted.values())
        assert all(torch.equal(converted[k], v) for k, v in expected.items()), name


def test_higherhrnet_fp16_file_loads_through_posekit_load_and_convert(tmp_path):
    torch.manual_seed(0)
    net = build_model("higherhrnet-w32")
    half = {f"1.{k}": v.half() if k.endswith("weight") and v.dim() == 4 else v for k, v in net.state_dict().items()}
    path = tmp_path / "pose_higher_hrnet_w32_640.pth"
    torch.save(half, path)
    expected = {k[2:]: v.float() for k, v in half.items()}
    model = posekit.load("higherhrnet-w32-640", weights=path)
    assert (model.paradigm, model.name, model.keypoint_set.name, model.input_size) == \
        ("bottomup", "higherhrnet-w32-640", "coco17", (640, 640))
    assert_state(model.estimator.model, expected)
    assert posekit.load(path).name == "higherhrnet-w32"  # no name: the first zoo model of those shapes
    with pytest.raises(ValueError, match="is an official HigherHRNet checkpoint, not mmpose"):
        run_cli(["convert", "checkpoint", "mmpose", str(path), str(tmp_path / "x.pt")])


# ---------------------------------------------------------------------------------------- Simple Pose
# Pairs read off the official PoseNet (models/posenet.py, models/layers_transposed.py) by hand.
HAND_CHECKED = {
    "pre.conv1.weight": "stem.conv1.0.weight",
    "pre.bn1.running_var": "stem.conv1.1.running_var",
    "pre.res1.skipConv.1.weight": "stem.res1.skip.1.weight",
    "pre.res2.convBlock.6.weight": "stem.res2.block.6.weight",
    "pre.dilation.5.bn.bias": "stem.dilated.5.1.bias",
    "hourglass.3.hg.0.0.convBlock.0.weight": "hourglass.3.levels.0.skip.block.0.weight",
    "hourglass.0.hg.1.1.skipConv.0.weight": "hourglass.0.levels.1.down.skip.0.weight",
    "hourglass.1.hg.2.2.convBlock.7.running_mean": "hourglass.1.levels.2.up.block.7.running_mean",
    "hourglass.2.hg.3.3.conv.weight": "hourglass.2.levels.3.refine.0.weight",
    "hourglass.2.hg.3.4.convBlock.3.weight": "hourglass.2.levels.3.inner.block.3.weight",
    "features.1.before_regress.4.1.bn.num_batches_tracked": "features.1.4.1.1.num_batches_tracked",
    "features.0.before_regress.2.2.fc.2.bias": "features.0.2.2.fc.2.bias",
    "outs.3.4.conv.bias": "outs.3.4.0.bias",
    "merge_features.2.1.conv.bn.weight": "merge_features.2.1.1.weight",
    "merge_preds.0.4.conv.conv.weight": "merge_preds.0.4.0.weight",
}


def test_simplepose_key_map_is_a_named_bijection_onto_imhn():
    official = official_shapes("simplepose_imhn_coco17")
    for name, expected in HAND_CHECKED.items():
        assert name in official and posekit_name(name) == expected
    posekit_shapes = meta_shapes("simplepose-imhn")
    mapped = {posekit_name(k): s for k, s in official.items()}
    assert len(mapped) == len(official) == 1848 and mapped == posekit_shapes
    with pytest.raises(ValueError, match="'outs.0.0.extra.weight' has no posekit counterpart"):
        posekit_name("outs.0.0.extra.weight")


def test_simplepose_forms_convert_by_name(tmp_path):
    names = list(official_shapes("simplepose_imhn_coco17"))
    state = tiny_state(names)
    expected = {posekit_name(k): v for k, v in state.items()}
    forms = {
        "train": {"weights": {f"posenet.{k}": v for k, v in state.items()}, "epoch": 52,
                  "optimizer_weight": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
                  "train_loss": np.float64(123.4)},  # a numpy scalar: read as an inert placeholder
        "dataparallel": {f"module.posenet.{k}": v for k, v in state.items()},
        "bare": state,
        "apex_o2": {"weights": {f"posenet.{k}": v.half() for k, v in state.items()}},
    }
    for name, content in forms.items():
        torch.save(content, tmp_path / f"{name}.pth")
        checkpoint = read_checkpoint(tmp_path / f"{name}.pth")
        assert detect_format(checkpoint) == "simplepose", name
        from posekit.models.official import unwrap
        converted = convert_simplepose_state(unwrap(checkpoint))
        assert converted.keys() == expected.keys() and all(v.dtype == torch.float32 for v in converted.values())
        tolerance = 1e-3 if name == "apex_o2" else 0
        assert all(float((converted[k] - v).abs().max()) <= tolerance for k, v in expected.items()), name
    weights = convert_official(meta_state(official_shapes("simplepose_imhn_coco17")))
    assert (weights.model, weights.keypoint_set, weights.params) == ("simplepose-imhn", "coco17",
                                                                     {"input_format": "bgr01"})
    no_bn = {k: v for k, v in state.items() if ".bn." not in k}
    with pytest.raises(ValueError, match="bn=False"):
        convert_simplepose_state(no_bn)


def test_simplepose_input_format_feeds_the_official_bgr_over_255():
    from posekit.data.datasets import normalize_image
    torch.manual_seed(0)
    rgb_model = build_model("simplepose-imhn-s").eval()
    bgr_model = build_model("simplepose-imhn-s", input_format="bgr01").eval()
    bgr_model.load_state_dict(rgb_model.state_dict())
    for m in rgb_model.modules():  # O(1) outputs, so the comparison means something
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=m.weight[0].numel() ** -0.5)
    bgr_model.load_state_dict(rgb_model.state_dict())
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # RGB
    official_input = torch.from_numpy(image[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        want = rgb_model(official_input)[-1][0]
        got = bgr_model(normalize_image(image)[None])[-1][0]
    assert float(want.abs().max()) > 0.1
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_simplepose_official_file_loads_through_posekit_load_and_convert(tmp_path):
    # The official names of a 2-stack network are those of the published one's first two stacks.
    torch.manual_seed(0)
    small = build_model("simplepose-imhn-s").state_dict()
    official = [k for k in official_shapes("simplepose_imhn_coco17") if posekit_name(k) in small]
    assert len(official) == len(small)
    path = tmp_path / "PoseNet_52_epoch.pth"
    torch.save({"weights": {f"posenet.{k}": small[posekit_name(k)] for k in official}, "epoch": 52}, path)
    model = posekit.load(path)
    assert (model.paradigm, model.name, model.keypoint_set.name) == ("bottomup", "simplepose-imhn-s", "coco17")
    assert model.estimator.model.input_format == "bgr01"
    assert_state(model.estimator.model, small)
    import cv2
    from posekit.cli import main
    cv2.imwrite(str(tmp_path / "a.png"), np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8))
    assert main(["predict", str(tmp_path / "a.png"), "--checkpoint", str(path), "--out", str(tmp_path / "pred"),
                 "--no-flip", "--no-draw"]) == 0
    assert (tmp_path / "pred" / "results.json").is_file()
    assert run_cli(["convert", "checkpoint", "simplepose", str(path), str(tmp_path / "sp.pt"), "--json"]) == 0
    from posekit.experiment import load_experiment
    cfg, estimator = load_experiment(tmp_path / "sp.pt")
    assert cfg.model.params == {"input_format": "bgr01"} and cfg.codec.name == "simplepose"
    assert_state(estimator.model, small)


# ---------------------------------------------------------------------------------------------- errors
def test_cli_choices_are_the_libraries():
    from posekit.commands.convert_checkpoint import PARTS, SOURCES
    from posekit.models.convert_mmpose import DISTILLER_PARTS
    from posekit.models.official import FORMATS
    assert SOURCES == tuple(FORMATS) and PARTS == DISTILLER_PARTS


def test_unknown_weights_get_a_one_line_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.layer.0.weight": torch.zeros(2)}}, path)
    for load in (lambda: posekit.load(path), lambda: posekit.load("rtmpose-m", weights=path)):
        with pytest.raises(ValueError, match="other.pth: neither a posekit checkpoint nor an official one") as error:
            load()
        assert "\n" not in str(error.value)
    posekit_file = tmp_path / "posekit.pt"
    torch.save({"estimator": {}, "metadata": {}}, posekit_file)
    with pytest.raises(ValueError, match="posekit.pt: is a posekit checkpoint or model file already"):
        run_cli(["convert", "checkpoint", "mmpose", str(posekit_file), str(tmp_path / "x.pt")])
    torch.save({"state_dict": {"backbone.stem.0.conv.weight": torch.zeros(1)}}, path)
    for source, name in (("higherhrnet", "HigherHRNet"), ("simplepose", "Simple Pose")):
        with pytest.raises(ValueError, match=f"other.pth: not an official {name}"):
            run_cli(["convert", "checkpoint", source, str(path), str(tmp_path / "x.pt")])
    torch.save({"state_dict": _random_like("rtmpose-t", 0)}, path)
    with pytest.raises(ValueError, match="part 'merged' applies to DWPose distiller files"):
        run_cli(["convert", "checkpoint", "mmpose", str(path), str(tmp_path / "x.pt"), "--part", "merged"])
