"""The user's path end to end on real LSP images: train -> eval -> predict, through the CLI."""
import json
from pathlib import Path

import pytest

from posekit.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = ["data.input_size=[64,96]", "data.batch_size=4", "data.val_batch_size=8", "data.workers=0",
        "data.max_train_samples=8", "data.max_val_samples=6", "train.epochs=2", "train.max_iters_per_epoch=2",
        "train.val_interval=1", "model.params={deconv_channels: 32}", "model.name=simplebaseline-res18"]


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request):
    from conftest import DATA, require
    lsp = require(DATA / "lsp")
    out = tmp_path_factory.mktemp("run")
    args = ["train", str(REPO / "configs" / "demo_lsp.yaml"), f"data.train={lsp}", f"data.val={lsp}",
            f"out_dir={out}", *TINY, "--json"]
    assert main(args) == 0
    return lsp, out


def test_train_writes_checkpoints_metrics_and_curves(trained):
    _, out = trained
    for name in ("last.pt", "best.pt", "metrics.jsonl", "curves.png", "config.yaml"):
        assert (out / name).is_file(), name
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [row for row in epochs if row["type"] == "epoch"]
    assert [row["epoch"] for row in epochs] == [0, 1]
    assert all("val/PCK@0.2" in row for row in epochs)


def test_eval_reports_pck_per_group_and_writes_results(trained, capsys, tmp_path):
    lsp, out = trained
    results = tmp_path / "res.json"
    assert main(["eval", str(REPO / "configs" / "demo_lsp.yaml"), f"data.train={lsp}", f"data.val={lsp}",
                 *TINY, "--checkpoint", str(out / "best.pt"), "--results", str(results), "--json"]) == 0
    metrics = last_json(capsys)
    assert set(metrics) >= {"PCK@0.2", "head", "wrist", "ankle", "total"}
    assert 0.0 <= metrics["total"] <= 1.0
    rows = json.loads(results.read_text())
    assert len(rows) == 6 and len(rows[0]["keypoints"]) == 14 * 3
    # The results file scores the same through `posekit score`-style evaluation of the raw predictions.
    assert main(["score", "--gt", str(_lsp_test_json(lsp, tmp_path)), "--results", str(results), "--json"]) == 0
    assert last_json(capsys)["stats"]["PCK@0.2"] == pytest.approx(metrics["PCK@0.2"])


def _lsp_test_json(lsp: Path, tmp_path: Path) -> Path:
    from dataclasses import replace

    from posekit.data.convert import write_coco
    from posekit.data.readers import read_lsp
    data = read_lsp(lsp, split="test")
    path = tmp_path / "lsp_test6.json"
    write_coco(replace(data, records=data.records[:6]), path)
    return path


def test_predict_on_an_image_with_the_person_detector(trained, capsys, tmp_path, weights_root):
    _, out = trained
    image = REPO.parent / "shared" / "data" / "images" / "zidane.jpg"
    assert main(["predict", str(image), "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path),
                 "--detector", str(weights_root / "rtmdet_nano_person_end2end.onnx"), "--json"]) == 0
    summary = last_json(capsys)
    assert summary["poses"] >= 2  # two players stand in this photo
    rows = json.loads((tmp_path / "results.json").read_text())
    assert all(len(r["keypoints"]) == 14 * 3 for r in rows)
    assert (tmp_path / "zidane_pose.jpg").is_file()


def test_predict_on_a_folder_uses_the_whole_image_without_boxes(trained, capsys, tmp_path):
    lsp, out = trained
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("im1001.jpg", "im1002.jpg"):
        (folder / name).write_bytes((lsp / "images" / name).read_bytes())
    assert main(["predict", str(folder), "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path / "o"),
                 "--no-draw", "--json"]) == 0
    assert last_json(capsys)["poses"] == 2


def test_resume_after_completion_does_not_retrain(trained, capsys):
    lsp, out = trained
    before = (out / "last.pt").stat().st_mtime_ns
    assert main(["train", str(REPO / "configs" / "demo_lsp.yaml"), f"data.train={lsp}", f"data.val={lsp}",
                 f"out_dir={out}", *TINY, "--json"]) == 0
    assert last_json(capsys)["epochs"] == 2
    assert (out / "last.pt").stat().st_mtime_ns == before


def test_config_errors_stop_before_any_work(capsys, tmp_path):
    assert main(["train", str(REPO / "configs" / "demo_lsp.yaml"), "train.epochz=3", f"out_dir={tmp_path / 'x'}"]) == 2
    assert "train.epochz" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_unreadable_checkpoint_is_named(capsys, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["predict", str(tmp_path), "--checkpoint", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "broken.pt" in err or "no images" in err
    image_dir = tmp_path / "one"
    image_dir.mkdir()
    (image_dir / "a.png").write_bytes(b"")
    assert main(["predict", str(image_dir), "--checkpoint", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "broken.pt" in capsys.readouterr().err


def test_predict_with_coco_detections(trained, capsys, tmp_path, fixtures_root):
    _, out = trained
    coco = fixtures_root / "mmpose_tests" / "coco"
    detections = json.loads((coco / "test_coco_det_AP_H_56.json").read_text())
    ids = {785, 40083, 196141, 197388}
    expected = sum(1 for d in detections if d["image_id"] in ids and d["category_id"] == 1)
    assert main(["predict", str(coco), "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path),
                 "--detections", str(coco / "test_coco_det_AP_H_56.json"),
                 "--images-json", str(coco / "test_coco.json"), "--no-draw", "--json"]) == 0
    assert last_json(capsys)["poses"] == expected  # one pose per detected box
    rows = json.loads((tmp_path / "results.json").read_text())
    assert {r["image_id"] for r in rows} <= ids


def test_models_and_info_verbs(capsys):
    assert main(["models", "--json"]) == 0
    names = {m["name"] for m in last_json(capsys)["models"]}
    assert {"simplebaseline-res18", "rtmpose-t", "higherhrnet-w32", "simplepose-imhn"} <= names
    assert main(["info", "simplebaseline-res50", "--input", "256x192", "--json"]) == 0
    # SimpleBaseline-ResNet50: 34.0 M parameters, the published count.
    assert last_json(capsys)["params_m"] == pytest.approx(34.0, rel=0.01)


@pytest.mark.slow
def test_torchrun_trains_through_the_cli_with_two_processes(tmp_path):
    """DDP under torchrun (gloo on CPU, 2 processes) through `posekit train`: both ranks step, rank 0
    writes the checkpoint and the log."""
    import os
    import subprocess
    import sys
    from conftest import DATA, require
    lsp = require(DATA / "lsp")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "posekit.cli", "train", str(REPO / "configs" / "demo_lsp.yaml"), f"data.train={lsp}",
           f"data.val={lsp}", f"out_dir={tmp_path}", *TINY, "train.epochs=1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if r["type"] == "epoch"] == [0]  # logged once, by rank 0


def test_pretrained_initialisation_from_a_checkpoint(trained, tmp_path):
    import torch

    from posekit.config import load_config
    from posekit.experiment import build_estimator, load_experiment, load_pretrained
    lsp, out = trained
    _, reference = load_experiment(out / "best.pt")
    cfg = load_config(REPO / "configs" / "demo_lsp.yaml", [f"data.train={lsp}", *TINY])
    fresh = build_estimator(cfg)
    load_pretrained(fresh, str(out / "best.pt"))
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), reference.state_dict().values()))
    other = build_estimator(load_config(REPO / "configs" / "demo_lsp.yaml", [*TINY, "model.name=rtmpose-t", "model.params={}"]))
    with pytest.raises(ValueError, match="best.pt"):
        load_pretrained(other, str(out / "best.pt"))
