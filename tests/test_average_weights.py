"""tools/average_weights.py: the mean of two runs' weights, written as a checkpoint that loads as an
experiment, with BatchNorm statistics recomputed on request; mismatched inputs are named."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import DATA, REPO, require

sys.path.insert(0, str(REPO / "tools"))
from average_weights import average  # noqa: E402

from posekit.cli import main  # noqa: E402
from posekit.training.checkpoint import load_checkpoint  # noqa: E402

TINY = ["data.input_size=[64,96]", "data.batch_size=4", "data.workers=0", "data.max_train_samples=8",
        "data.max_val_samples=4", "train.epochs=1", "train.max_iters_per_epoch=2", "train.val_interval=0",
        "model.params={deconv_channels: 32}", "model.name=simplebaseline-res18"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    lsp = require(DATA / "lsp")
    runs = []
    for seed in (1, 2):
        out = tmp_path_factory.mktemp(f"seed{seed}")
        assert main(["train", str(REPO / "configs" / "demo_lsp.yaml"), f"data.train={lsp}", f"data.val={lsp}",
                     f"out_dir={out}", f"train.seed={seed}", *TINY]) == 0
        runs.append(out / "last.pt")
    return runs


def run_tool(*args):
    return subprocess.run([sys.executable, str(REPO / "tools" / "average_weights.py"), *map(str, args)],
                          capture_output=True, text=True)


def test_the_soup_is_the_mean_and_loads_as_an_experiment(two_runs, tmp_path):
    from posekit.experiment import load_experiment
    a, b = (load_checkpoint(p)["estimator"] for p in two_runs)
    done = run_tool(*two_runs, "--out", tmp_path / "soup.pt")
    assert done.returncode == 0, done.stderr
    soup = load_checkpoint(tmp_path / "soup.pt")
    assert "optimizer" not in soup and soup["strategy"] == {}  # weights only: nothing to resume
    assert soup["metadata"]["averaged_from"] == [str(p) for p in two_runs]
    for k, v in soup["estimator"].items():
        if v.is_floating_point():
            assert torch.allclose(v, (a[k] + b[k]) / 2)
        else:
            assert torch.equal(v, a[k])
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())  # the runs differ
    cfg, estimator = load_experiment(tmp_path / "soup.pt")
    assert cfg.model.name == "simplebaseline-res18"
    loaded = estimator.state_dict()
    assert loaded.keys() == soup["estimator"].keys()
    assert all(torch.equal(loaded[k], v) for k, v in soup["estimator"].items())


def test_precise_bn_recomputes_statistics_and_keeps_weights(two_runs, tmp_path):
    plain, precise = tmp_path / "plain.pt", tmp_path / "precise.pt"
    assert run_tool(*two_runs, "--out", plain).returncode == 0
    done = run_tool(*two_runs, "--out", precise, "--precise-bn", 2)
    assert done.returncode == 0, done.stderr
    assert "BatchNorm statistics over 2 batches" in done.stdout
    p, q = load_checkpoint(plain), load_checkpoint(precise)
    assert q["metadata"]["precise_bn_batches"] == 2
    means = [k for k in p["estimator"] if k.endswith("running_mean")]
    assert means and any(not torch.equal(p["estimator"][k], q["estimator"][k]) for k in means)
    weights = [k for k in p["estimator"] if k.endswith(".weight")]
    assert all(torch.equal(p["estimator"][k], q["estimator"][k]) for k in weights)


def test_a_model_file_averages_in_fp32_and_a_mismatch_is_named(two_runs, tiny_model, tmp_path):
    with pytest.raises(ValueError, match="tiny.pt: its weights do not match"):
        average([two_runs[0], tiny_model])
    same = average([tiny_model, tiny_model])
    assert all(v.dtype == torch.float32 for v in same.values() if v.is_floating_point())
    done = run_tool(tiny_model, "--out", tmp_path / "x.pt")
    assert done.returncode != 0 and "no input is a training checkpoint" in done.stderr
    assert "Traceback" not in done.stderr
