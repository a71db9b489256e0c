"""Resume is exact: a run interrupted (by an exception, or by SIGKILL in a subprocess) and resumed
from out_dir/last.pt ends with weights identical to an uninterrupted run with the same seed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from _toy_training import ToyDataset, ToyEstimator, toy_config, toy_evaluate, toy_loader
from _toy_training import main as toy_main
from posekit.training import SupervisedStrategy, Trainer, seed_everything
from posekit.training.checkpoint import load_checkpoint

TESTS = Path(__file__).resolve().parent


class Crash(RuntimeError):
    pass


class CrashingStrategy(SupervisedStrategy):
    def __init__(self, estimator, crash_at: int | None):
        super().__init__(estimator)
        self.crash_at = crash_at

    def loss(self, batch, epoch, iteration):
        if iteration == self.crash_at:
            raise Crash(f"simulated crash at iteration {iteration}")
        return super().loss(batch, epoch, iteration)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train_toy(out_dir: Path, crash_at: int | None = None, resume: bool = False, interval: int = 0,
              workers: int = 0) -> Trainer:
    seed_everything(0)
    strategy = CrashingStrategy(ToyEstimator(), crash_at)
    loader = toy_loader(ToyDataset(20), batch_size=4, workers=workers)  # 5 iterations per epoch
    trainer = Trainer(toy_config(ema=True, ema_momentum=0.1), strategy, loader, out_dir, evaluate=toy_evaluate,
                      checkpoint_interval=interval, resume=resume)
    trainer.fit()
    return trainer


def train_rows(out_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("crash_at, interval, workers, resumed_at", [
    (8, 3, 0, (1, 1)),   # last checkpoint mid-epoch: iteration 6 = epoch 1 after 1 batch
    (8, 0, 0, (1, 0)),   # last checkpoint at the end of epoch 0
    (12, 4, 2, (2, 2)),  # mid-epoch, with worker processes doing the random "augmentation"
])
def test_resume_after_crash_is_exact(tmp_path, one_thread, crash_at, interval, workers, resumed_at):
    reference = train_toy(tmp_path / "ref", interval=interval, workers=workers)
    with pytest.raises(Crash):
        train_toy(tmp_path / "run", crash_at=crash_at, interval=interval, workers=workers)
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (ckpt["epoch"], ckpt["batches_done"]) == resumed_at
    resumed = train_toy(tmp_path / "run", resume=True, interval=interval, workers=workers)
    assert_same_weights(resumed.strategy.state_dict(), reference.strategy.state_dict())
    assert_same_weights(resumed.ema.module.state_dict(), reference.ema.module.state_dict())
    assert resumed.best_metric == reference.best_metric
    # Lines logged after the checkpoint were dropped on resume, so the log matches too.
    assert train_rows(tmp_path / "run") == train_rows(tmp_path / "ref")


def test_resume_true_without_checkpoint_is_an_error_and_auto_starts_fresh(tmp_path):
    with pytest.raises(FileNotFoundError, match="last.pt"):
        Trainer(toy_config(), SupervisedStrategy(ToyEstimator()), toy_loader(ToyDataset(8), 4), tmp_path,
                resume=True)
    fresh = Trainer(toy_config(), SupervisedStrategy(ToyEstimator()), toy_loader(ToyDataset(8), 4), tmp_path,
                    resume="auto")
    assert (fresh.epoch, fresh.iteration) == (0, 0)


def run_toy_script(args: list[str]) -> None:
    """The script's main() in this process (one thread, deterministic mode undone afterwards)."""
    try:
        assert toy_main(args) == 0
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.slow  # a subprocess importing torch: several seconds on a loaded machine
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, one_thread):
    script = [sys.executable, str(TESTS / "_toy_training.py")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_toy_script([str(tmp_path / "ref")])

    run_dir = tmp_path / "run"
    proc = subprocess.Popen(script + [str(run_dir), "--sleep", "0.1", "--checkpoint-interval", "4"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (run_dir / "last.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = load_checkpoint(run_dir / "last.pt")
    assert killed_at["iteration"] < 18 and not (run_dir / "final_rank0.pt").exists()

    run_toy_script([str(run_dir), "--resume"])
    assert_same_weights(torch.load(run_dir / "final_rank0.pt"), torch.load(tmp_path / "ref" / "final_rank0.pt"))
    assert train_rows(run_dir) == train_rows(tmp_path / "ref")


@pytest.mark.slow  # a subprocess importing torch
def test_sigkill_while_replacing_last_checkpoint_keeps_the_previous_one(tmp_path, one_thread):
    """Killed after the new checkpoint is written but before it replaces last.pt: the old last.pt is
    intact, and resuming from it still ends exactly like an uninterrupted run."""
    script = [sys.executable, str(TESTS / "_toy_training.py")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_toy_script([str(tmp_path / "ref")])
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(script + [str(run_dir), "--checkpoint-interval", "4", "--pause-before-replace", "30"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    while line and line.strip() != "REPLACING":
        line = proc.stdout.readline()
    assert line.strip() == "REPLACING", "the run never replaced an existing last.pt"
    before = load_checkpoint(run_dir / "last.pt")
    assert (run_dir / ".last.pt.tmp").stat().st_size > 0  # the new checkpoint is written, not yet in place
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    after = load_checkpoint(run_dir / "last.pt")  # readable: the replacement never half-happened
    assert after["iteration"] == before["iteration"] < 18

    run_toy_script([str(run_dir), "--resume"])
    assert_same_weights(torch.load(run_dir / "final_rank0.pt"), torch.load(tmp_path / "ref" / "final_rank0.pt"))
    assert train_rows(run_dir) == train_rows(tmp_path / "ref")


def test_checkpoint_round_trips_rng_and_loads_weights_only(tmp_path):
    import random

    import numpy as np

    from posekit.training.checkpoint import rng_state, save_checkpoint, set_rng_state

    state = rng_state()
    drawn = (random.random(), float(np.random.randn()), float(torch.rand(1)))
    save_checkpoint({"strategy": {}, "rng": state}, tmp_path / "c.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no temporary file left behind
    assert torch.load(tmp_path / "c.pt", weights_only=True)["rng"]["python"] == state["python"]
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (random.random(), float(np.random.randn()), float(torch.rand(1))) == drawn


def test_checkpoint_holds_everything_needed(tmp_path):
    train_toy(tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert {"strategy", "strategy_extra", "optimizer", "scheduler", "scaler", "ema", "epoch", "iteration",
            "rng", "best_metric", "config", "estimator"} <= ckpt.keys()
    assert ckpt["config"]["epochs"] == 3 and ckpt["epoch"] == 3 and ckpt["iteration"] == 15
    assert set(ckpt["estimator"]) == set(ToyEstimator().state_dict())


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="last.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "last.pt")


def test_unwritable_output_is_a_clear_error_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    """A full disk (or a read-only folder) mid-run: an error naming the file; the last good checkpoint
    stays readable, and no temporary file is left behind."""
    import errno

    import posekit.training.checkpoint as checkpoint
    import posekit.training.engine as engine
    from posekit.training.engine import OutputWriteError

    saves = {"n": 0}
    real_save = torch.save

    def failing_save(state, f, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] >= 2:
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(state, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    monkeypatch.setattr(engine, "plot_curves", lambda *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(OutputWriteError, match=r"best.pt: cannot write the checkpoint \(No space left on device\)"):
        train_toy(tmp_path)
    monkeypatch.setattr(checkpoint.torch, "save", real_save)
    kept = load_checkpoint(tmp_path / "last.pt")
    assert kept["epoch"] >= 0 and not (tmp_path / ".last.pt.tmp").exists()
