"""tools/swa_snapshots.py: one snapshot per epoch, equal to what one uninterrupted run has at that epoch;
a rerun skips the snapshots it has; a last.pt past the epoch it needs is refused, not copied."""
from __future__ import annotations

import sys

import pytest
import torch
from conftest import DATA, REPO, require

sys.path.insert(0, str(REPO / "tools"))
from swa_snapshots import snapshots  # noqa: E402

from posekit.cli import main  # noqa: E402
from posekit.training.checkpoint import load_checkpoint  # noqa: E402

TINY = ["data.input_size=[64,96]", "data.batch_size=4", "data.workers=0", "data.max_train_samples=8",
        "data.max_val_samples=4", "train.epochs=3", "train.max_iters_per_epoch=2", "train.val_interval=0",
        "train.schedule=constant", "model.params={deconv_channels: 32}", "model.name=simplebaseline-res18"]
CONFIG = str(REPO / "configs" / "demo_lsp.yaml")


def weights(path):
    return load_checkpoint(path)["estimator"]


def test_snapshots_are_one_uninterrupted_run(tmp_path, capsys):
    lsp = require(DATA / "lsp")
    common = [f"data.train={lsp}", f"data.val={lsp}", *TINY]
    paths = snapshots(CONFIG, [f"out_dir={tmp_path / 'swa'}", *common])
    assert [p.name for p in paths] == ["snapshot_1.pt", "snapshot_2.pt", "snapshot_3.pt"]
    assert [load_checkpoint(p)["epoch"] for p in paths] == [1, 2, 3]
    # the same run straight through to epoch 2: the same weights as the second snapshot
    assert main(["train", CONFIG, f"out_dir={tmp_path / 'straight'}", *common, "train.epochs=3",
                 "train.stop_epoch=2"]) == 0
    straight, second, first = weights(tmp_path / "straight" / "last.pt"), weights(paths[1]), weights(paths[0])
    assert all(torch.equal(straight[k], second[k]) for k in straight)
    assert any(not torch.equal(first[k], second[k]) for k in first if first[k].is_floating_point())
    # no validation ran (val_interval 0), and the summary says so rather than printing a best of None
    assert "not validated (train.val_interval 0" in capsys.readouterr().out
    # a rerun finds every snapshot and trains nothing
    assert snapshots(CONFIG, [f"out_dir={tmp_path / 'swa'}", *common]) == paths
    assert "snapshot of epoch" not in capsys.readouterr().out
    # snapshots deleted after the run ended: last.pt is at epoch 3, not epoch 1's weights
    paths[0].unlink()
    with pytest.raises(SystemExit, match="is at epoch 3, not 1"):
        snapshots(CONFIG, [f"out_dir={tmp_path / 'swa'}", *common])


def test_an_unknown_key_is_named(tmp_path):
    with pytest.raises(SystemExit, match="train.nope"):
        snapshots(CONFIG, [f"out_dir={tmp_path}", "train.nope=1"])
