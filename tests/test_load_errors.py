"""A file torch.save cannot have written (an ONNX model, a photo) is named as such in one line, and
no error relays torch's advice to load with weights_only=False (which would run pickled code)."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from conftest import DATA, WEIGHTS, require
from posekit.cli import main
from posekit.inference.api import load
from posekit.inference.model_file import read_model_file
from posekit.models.safe_load import load_error_reason, load_runner_checkpoint, load_weights_only

# What an ONNX ModelProto opens with: ir_version 8, producer_name "pytorch".
FAKE_ONNX = b"\x08\x08\x12\x07pytorch\x1a\x031.0" + bytes(32)
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)
FAKE_PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def _one_line(text: str, path: Path) -> str:
    assert len(text.strip().splitlines()) == 1 and str(path) in text, text
    assert "weights_only" not in text, text
    return text


def _load_error(path: Path) -> str:
    with pytest.raises(ValueError) as error:
        load(path)
    return _one_line(str(error.value), path)


def test_onnx_file_points_to_the_runtime(tmp_path):
    for name, content in (("model.onnx", bytes(40)), ("model.bin", FAKE_ONNX)):
        path = tmp_path / name
        path.write_bytes(content)
        err = _load_error(path)
        assert "not a posekit model file or checkpoint (an ONNX file: run it with posekit.runtime.load)" in err


def test_real_onnx_detector_through_load_predict_and_export(tmp_path, capsys):
    onnx = require(WEIGHTS / "rtmdet_nano_person_end2end.onnx")
    assert "posekit.runtime.load" in _load_error(onnx)
    image = tmp_path / "a.png"
    image.write_bytes(FAKE_PNG)
    for argv in (["predict", str(image), "--checkpoint", str(onnx), "--out", str(tmp_path / "o")],
                 ["export", str(onnx), "--out", str(tmp_path / "y.onnx")]):
        assert main(argv) == 2
        assert "posekit.runtime.load" in _one_line(capsys.readouterr().err, onnx)
    assert not (tmp_path / "y.onnx").exists()


def test_image_is_named_as_an_image(tmp_path):
    photo = tmp_path / "photo.jpg"
    real = DATA / "images" / "bus.jpg"
    photo.write_bytes(real.read_bytes() if real.is_file() else FAKE_JPEG)
    assert "a JPEG image, not a model" in _load_error(photo)
    png = tmp_path / "weights.pt"  # the bytes decide, not the suffix
    png.write_bytes(FAKE_PNG)
    assert "a PNG image" in _load_error(png)


def test_every_loading_path_names_the_file_kind(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(FAKE_ONNX)
    for load_path in (lambda: read_model_file(onnx), lambda: load_weights_only(onnx),
                      lambda: load_runner_checkpoint(onnx, "backbone weights")):
        with pytest.raises(ValueError, match="an ONNX file") as error:
            load_path()
        _one_line(str(error.value), onnx)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert "the file is empty" in _load_error(empty)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert "neither" in _load_error(junk)


def test_torch_files_of_both_formats_still_load(tmp_path):
    for name, zipped in (("zip.pt", True), ("legacy.pt", False)):
        torch.save({"w": torch.ones(2)}, tmp_path / name, _use_new_zipfile_serialization=zipped)
        assert torch.equal(load_weights_only(tmp_path / name)["w"], torch.ones(2))
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_weights_only(tmp_path / "missing.pt")


def test_torch_reason_drops_the_weights_only_advice(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04garbage" * 10)  # a pickle opening, so torch's own error speaks
    with pytest.raises(Exception) as error, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the pickle protocol before failing
        torch.load(garbage, weights_only=True)
    assert "weights_only" in str(error.value)  # torch's text advises it; the reason must not
    reason = load_error_reason(error.value)
    assert "weights_only" not in reason and "Unsupported operand" in reason
    _one_line(str(pytest.raises(ValueError, load, garbage).value), garbage)


def test_training_checkpoint_loader_names_an_onnx_file(tmp_path):
    from posekit.training.checkpoint import load_checkpoint

    onnx_like = tmp_path / "model.onnx"
    onnx_like.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(32))
    with pytest.raises(ValueError, match=r"model.onnx: not a checkpoint \(an ONNX file"):
        load_checkpoint(onnx_like)


def test_pose_onnx_given_as_detector_is_named(tmp_path):
    """A pose model passed as --detector failed on the first image with onnxruntime's shape error."""
    import onnx
    from onnx import TensorProto, helper

    from posekit.inference.detector import PersonDetector

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["simcc_x"])], "pose",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 128, 128])],
                              [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [1, 3, 128, 128])])
    path = tmp_path / "pose.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ValueError, match=r"pose.onnx: not an end-to-end person detector"):
        PersonDetector(path)


def test_real_detector_passes_the_interface_check(weights_root):
    from posekit.inference.detector import PersonDetector

    PersonDetector(require(weights_root / "rtmdet_nano_person_end2end.onnx"))
