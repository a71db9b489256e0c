"""`posekit info` on the shipped default model and on model files and checkpoints: their own model,
input size, keypoint set and keypoint names in order (what the video JSONL's K x 3 keypoints follow)."""
from __future__ import annotations

import json

import pytest

from posekit.config import ExperimentConfig, from_dict, to_dict
from posekit.estimators.topdown import build_topdown_estimator
from posekit.inference.model_file import DEFAULT_MODEL, model_file_state, read_model_file, save_model_file
from posekit.keypoints import get_keypoint_set
from posekit.training.checkpoint import save_checkpoint
from test_info import run_info

SIMCC = {"name": "simcc", "split_ratio": 2.0, "normalize": False}


def _json(argv: list[str], capsys) -> dict:
    return json.loads(run_info([*argv, "--json"], capsys).splitlines()[-1])


def test_default_is_the_shipped_model_file(capsys):
    state = read_model_file(DEFAULT_MODEL)
    kset = get_keypoint_set(state["keypoint_set"])
    out = _json(["default"], capsys)
    assert out["file"] == str(DEFAULT_MODEL) and out["model"] == state["model"]
    assert out["keypoint_set"] == kset.name and out["keypoint_names"] == list(kset.names)
    assert out["input_hw"] == [state["input_size"][1], state["input_size"][0]] and out["params"] > 0
    assert out["inference"] == {"bbox_padding": state["bbox_padding"], "refine": state["refine"],
                                "whole_image_padding": state.get("whole_image_padding", state["bbox_padding"]),
                                "refine_looks": state.get("refine_looks", 1),
                                "keypoint_threshold": state["keypoint_threshold"]}
    text = run_info(["default"], capsys)
    assert f"{kset.name} ({kset.num_keypoints}): {', '.join(kset.names)}" in text
    assert f"refine {state['refine']:g} with {state.get('refine_looks', 1)} closer look(s)" in text
    assert _json([str(DEFAULT_MODEL)], capsys) == out


def test_model_file_and_training_checkpoint(tmp_path, capsys):
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 96))
    model_file = tmp_path / "tiny.pt"
    save_model_file(model_file_state(estimator, "rtmpose-t", (64, 96), 1.0, SIMCC, half=False), model_file)
    out = _json([str(model_file)], capsys)
    assert (out["model"], out["keypoint_set"], out["input_hw"]) == ("rtmpose-t", "coco17", [96, 64])
    assert out["keypoint_names"][:2] == ["nose", "left_eye"]
    cfg = from_dict(ExperimentConfig, {"model": {"name": "rtmpose-t"}, "data": {
        "keypoint_set": "lsp14", "input_size": [64, 64]}})
    checkpoint = tmp_path / "run.pt"
    save_checkpoint({"strategy": {}, "estimator": build_topdown_estimator("rtmpose-t", "lsp14", (64, 64)).state_dict(),
                     "metadata": {"experiment": to_dict(cfg)}}, checkpoint)
    out = _json([str(checkpoint)], capsys)
    assert (out["keypoint_set"], out["keypoint_names"]) == ("lsp14", list(get_keypoint_set("lsp14").names))
    assert out["inference"]["refine"] == 0.0 and "refine off" in run_info([str(checkpoint)], capsys)


def test_file_errors_name_the_file(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        run_info([str(tmp_path / "missing.pt")], capsys)
    with pytest.raises(ValueError, match="apply to zoo names"):
        run_info(["default", "--input", "256x192"], capsys)
    with pytest.raises(KeyError, match="`default`"):
        run_info(["no-such-model"], capsys)
