"""Bad inputs to `posekit convert`, `eval`, `export`, `detect` and `train` (config loading): each is a
one-line error (exit 2) that names the file or key, before any work; never a traceback or a silently
wrong number."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.config import ConfigError, load_config
from posekit.data.readers import read_mpii
from posekit.data.records import DataError


def _error(argv: list[str], capsys) -> str:
    """The one stderr line of a verb that must fail with exit 2 (and write nothing to stdout)."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


# ------------------------------------------------------------------------------------ convert mpii
def _mpii(tmp_path, **changes) -> str:
    """An MPII JSON of one person on a 64x48 image in tmp_path/images, with `changes` to its entry."""
    (tmp_path / "images").mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / "images" / "001.png"), np.zeros((48, 64, 3), np.uint8))
    entry = {"image": "001.png", "joints": [[10 + i, 5 + 2 * i] for i in range(16)], "joints_vis": [1] * 16,
             "center": [30, 24], "scale": 0.2}
    entry.update(changes)
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([entry]))
    return str(path)


@pytest.mark.parametrize("changes, key", [
    ({"joints": None}, "joints"),                                    # was TypeError
    ({"joints": [["a", 1]] + [[1, 2]] * 15}, "joints"),              # was a message without the file
    ({"joints": [[1, 2, 3]] + [[1, 2]] * 15}, "joints"),             # ragged: numpy's message only
    ({"joints": [[float("nan"), 1]] + [[1, 2]] * 15}, "joints"),
    ({"joints": [[-5000, 1]] + [[1, 2]] * 15}, "joints"),            # was written silently
    ({"joints_vis": ["x"] * 16}, "joints_vis"),
    ({"joints_vis": [float("nan")] * 16}, "joints_vis"),             # was 0 labelled keypoints, silently
    ({"scale": [1]}, "scale"),                                       # was TypeError
    ({"scale": "abc"}, "scale"),
    ({"scale": float("nan")}, "scale"),                              # was a box from the joints, silently
    ({"center": [1]}, "center"),                                     # was IndexError
    ({"center": [float("nan"), 2]}, "center"),
    ({"image": ["a"]}, "image"),                                     # was read as the file "['a']"
    ({"image": "../outside.png"}, "image"),                          # leads out of the image root
])
def test_convert_mpii_names_the_file_entry_and_key(tmp_path, capsys, changes, key):
    path = _mpii(tmp_path, **changes)
    line = _error(["convert", "mpii", path, str(tmp_path / "out.json")], capsys)
    assert line.startswith(f"posekit convert: error: {path}: entry 0") and f"'{key}'" in line
    assert not (tmp_path / "out.json").exists()


def test_mpii_image_outside_the_root_only_when_allowed(tmp_path):
    cv2.imwrite(str(tmp_path / "outside.png"), np.zeros((48, 64, 3), np.uint8))
    path = _mpii(tmp_path, image="../outside.png")
    with pytest.raises(DataError, match="leads outside the image root"):
        read_mpii(path)
    data = read_mpii(path, allow_absolute_paths=True)
    assert data.records[0].file_name == str(tmp_path / "outside.png")
    # A valid entry still reads as before: 0-based joints, the 200 * scale box around the centre.
    person = read_mpii(_mpii(tmp_path)).records[0].persons[0]
    assert person.keypoints[0].tolist() == [9, 4, 2] and person.bbox.tolist() == pytest.approx([9, 3, 40, 40])


# ---------------------------------------------------------------------------- convert: outputs, limits
def test_convert_output_that_is_a_folder_or_under_a_file(tmp_path, capsys):
    path = _mpii(tmp_path)
    (tmp_path / "taken.json").mkdir()
    line = _error(["convert", "mpii", path, str(tmp_path / "taken.json")], capsys)
    assert f"{tmp_path / 'taken.json'}: the output names a folder" in line
    line = _error(["convert", "mpii", path, f"{path}/out.json"], capsys)
    assert f"{path}/out.json: cannot create the folder" in line


def test_convert_lspet_limit_below_one(tmp_path, capsys):
    assert "--limit must be at least 1" in _error(["convert", "lspet", str(tmp_path), str(tmp_path / "o.json"),
                                                    "--limit", "0"], capsys)


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["annotations"][0].update(area="abc"), "area"),                 # was a message without the file
    (lambda d: d["annotations"][0].update(keypoints=["a"] * 51), "keypoints"),  # was TypeError
    (lambda d: d["annotations"][0].update(keypoints=[float("nan")] * 51), "keypoints"),  # was written as NaN
    (lambda d: d["annotations"].__setitem__(0, [1]), "annotations[0]"),         # was AttributeError
    (lambda d: d["images"][0].pop("id"), "'id'"),
])
def test_semi_split_checks_the_coco_file(tmp_path, capsys, mutate, key):
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 900.0,
                             "bbox": [10, 10, 30, 30], "keypoints": [20, 20, 2] * 17, "num_keypoints": 17}],
            "categories": [{"id": 1, "name": "person"}]}
    mutate(coco)
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    line = _error(["convert", "semi-split", str(path), str(tmp_path / "pool.json"), "--labeled", "1"], capsys)
    assert line.startswith(f"posekit convert: error: {path}: ") and key in line
    assert not list(tmp_path.glob("pool_*.json"))


# --------------------------------------------------------------------------- detect, export, eval
def test_detect_checks_out_and_thresholds_before_any_work(tmp_path, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    detect = ["detect", str(image), "--detector", str(tmp_path / "none.onnx")]
    assert f"{tmp_path}: --out names a folder" in _error([*detect, "--out", str(tmp_path)], capsys)
    assert "cannot create the folder for --out" in _error([*detect, "--out", f"{image}/boxes.json"], capsys)
    # NaN passed every argparse check and then dropped every box: "0 person boxes", exit 0.
    out = ["--out", str(tmp_path / "boxes.json")]
    assert "--min-score must be between 0 and 1, got nan" in _error([*detect, *out, "--min-score", "nan"], capsys)
    assert "--min-size must be >= 0, got nan" in _error([*detect, *out, "--min-size", "nan"], capsys)


def test_export_and_eval_check_their_output_before_loading(tmp_path, capsys):
    (tmp_path / "model.onnx").mkdir()
    line = _error(["export", "default", "--out", str(tmp_path / "model.onnx")], capsys)
    assert line == f"posekit export: error: {tmp_path / 'model.onnx'}: --out names a folder; give a file path"
    line = _error(["eval", str(tmp_path / "cfg.yaml"), "--checkpoint", str(tmp_path / "none.pt"),
                   "--results", str(tmp_path), "--device", "cpu"], capsys)
    assert line == f"posekit eval: error: {tmp_path}: --results names a folder; give a file path"


def test_export_refuses_an_opset_that_gives_an_invalid_graph(tiny_model, tmp_path, capsys):
    # The exporter wrote an --opset 1 file that onnxruntime cannot load, and reported success.
    out = tmp_path / "m.onnx"
    line = _error(["export", str(tiny_model), "--out", str(out), "--opset", "1"], capsys)
    assert line.startswith(f"posekit export: error: {out}: not written: the graph exported at opset 1 is not valid")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- train: config
@pytest.mark.parametrize("override, key", [
    ("codec.params=5", "codec.params"),          # was TypeError: argument of type 'int' is not iterable
    ("model.params=[1]", "model.params"),
    ("data.val_batch_size=0", "data.val_batch_size"),  # was DataLoader's message, mid-run, no key
    ("data.workers=-1", "data.workers"),
    ("train.seed=-1", "train.seed"),             # was "expected non-negative integer"
    ("train.warmup_ratio=-2", "train.warmup_ratio"),  # was a negative learning rate, silently
    ("train.min_lr_ratio=-1", "train.min_lr_ratio"),
])
def test_train_config_overrides_name_the_key(tmp_path, capsys, override, key):
    config = tmp_path / "cfg.yaml"
    config.write_text(f"out_dir: {tmp_path / 'run'}\n")
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        load_config(config, [override])
    assert f"config key '{key}'" in _error(["train", str(config), override, "--device", "cpu"], capsys)
    assert not (tmp_path / "run").exists()


def test_train_keypoint_set_must_match_a_fixed_format_and_out_dir_must_be_creatable(lsp_root, tmp_path, capsys):
    from posekit.experiment import load_split
    # LSP files hold lsp14: crowdpose14 (also 14 joints) trained silently under the wrong names,
    # coco17 failed mid-training in the loss.
    for kset in ("crowdpose14", "coco17"):
        cfg = load_config(None, ["data.format=lsp", f"data.val={lsp_root}", f"data.keypoint_set={kset}"])
        with pytest.raises(ConfigError, match=f"config key 'data.keypoint_set': '{kset}' but .* holds 'lsp14'"):
            load_split(cfg, "val")
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = _error(["train", "configs/demo_lsp.yaml", f"data.train={lsp_root}", "data.val=", "data.workers=0",
                   f"out_dir={blocker}/run", "--device", "cpu", "--no-resume"], capsys)
    assert line == (f"posekit train: error: config key 'out_dir': cannot create the folder {blocker}/run "
                    "(Not a directory)")
