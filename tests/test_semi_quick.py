"""Quick mode of the real semi-supervised configs, end to end through posekit.experiment.train on
LSP (labeled) and LSPET images (unlabeled): every network is evaluated and the SSPCM statistics
are logged."""
import json
from pathlib import Path

import pytest
import torch

from posekit.cli import main
from posekit.config import load_config
from posekit.experiment import train
from posekit.training.strategies.semi_common import quick_overrides

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "semi"


@pytest.fixture
def lspet_boxes(tmp_path, lspet_root, weights_root):
    """The configs' unlabeled source: detector crops of LSPET images (here of the first 8)."""
    out = tmp_path / "lspet_person_boxes.json"
    assert main(["detect", str(lspet_root / "images"), "--detector", str(weights_root / "rtmdet_nano_person_end2end.onnx"),
                 "--out", str(out), "--max-per-image", "1", "--limit", "8", "--threads", "1"]) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lsp_posedual", "lsp_sspcm", "lsp_sspcm_no_cut_occlude"])
def test_quick_mode_trains_and_evaluates(tmp_path, lsp_root, lspet_root, lspet_boxes, name, capsys):
    out = tmp_path / name
    # SSPCM also recomputes BN at each epoch end, before it copies its snapshot.
    precise_bn = ["train.precise_bn_batches=1"] if name == "lsp_sspcm" else []
    cfg = load_config(CONFIGS / f"{name}.yaml", quick_overrides(str(out)) + [
        f"data.train={lsp_root}", f"data.val={lsp_root}", f"strategy_params.unlabeled.path={lspet_boxes}",
        f"strategy_params.unlabeled.images={lspet_root / 'images'}", *precise_bn])
    assert cfg.strategy_params["unlabeled"]["format"] == "coco"
    summary = train(cfg, resume=False, progress=False)
    assert summary["epochs"] == 2 and summary["iterations"] == 4
    final = summary["final"]
    assert 0.0 <= final["PCK@0.2"] <= 1.0
    others = ["net2/PCK@0.2"] if name == "lsp_posedual" else ["teacher1/PCK@0.2", "teacher2/PCK@0.2"]
    assert all(k in final for k in others)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["type"] == "epoch"]
    if name != "lsp_posedual":
        assert all("stats/masked_share" in r and "stats/inconsistency" in r for r in epochs)
    if name == "lsp_sspcm":
        state = torch.load(out / "last.pt", map_location="cpu", weights_only=False)["strategy"]
        for key in ("teacher1.model.backbone.bn1", "student.model.backbone.bn1", "teacher1_last.backbone.bn1"):
            assert int(state[f"{key}.num_batches_tracked"]) == 1, key
        torch.testing.assert_close(state["teacher1_last.backbone.bn1.running_mean"],
                                   state["teacher1.model.backbone.bn1.running_mean"])
    # Any network of the checkpoint evaluates after training too, scoring what validation logged.
    network = "net2" if name == "lsp_posedual" else "teacher1"
    assert cfg.train.flip_test is False
    assert main(["eval", str(out / "config.yaml"), "--checkpoint", str(out / "last.pt"), "--network", network,
                 "--no-flip", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["PCK@0.2"] == pytest.approx(final[f"{network}/PCK@0.2"], abs=1e-9)
    assert main(["eval", str(out / "config.yaml"), "--checkpoint", str(out / "last.pt"), "--network", "bogus"]) == 2
    assert "no network 'bogus'" in capsys.readouterr().err
