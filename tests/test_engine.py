"""The training engine on a toy estimator: schedule, optimizer groups, clipping, EMA, logging,
best checkpoint, quick-mode cap and the non-finite loss stop."""
from __future__ import annotations

import copy
import hashlib
import json
import math

import pytest
import torch

from _toy_training import ToyDataset, ToyEstimator, toy_config, toy_evaluate, toy_loader
from posekit.training import NonFiniteLossError, SupervisedStrategy, Trainer, build_optimizer, seed_everything
from posekit.training.checkpoint import load_checkpoint
from posekit.training.ema import ModelEMA
from posekit.training.schedule import LrSchedule


def make_trainer(tmp_path, cfg, strategy=None, n=24, batch=4, **kwargs) -> Trainer:
    seed_everything(0)
    strategy = strategy or SupervisedStrategy(ToyEstimator())
    return Trainer(cfg, strategy, toy_loader(ToyDataset(n), batch), tmp_path, **kwargs)


def rows(tmp_path, kind):
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def test_step_schedule_with_warmup_hand_computed():
    cfg = toy_config(schedule="step", steps=[2], gamma=0.1, warmup_iters=4, warmup_ratio=0.1)
    s = LrSchedule(cfg, iters_per_epoch=5)
    # warm-up 0.1 -> 1 over 4 iterations, then x0.1 from epoch 2 (iteration 10)
    expected = {0: 0.1, 2: 0.55, 3: 0.775, 4: 1.0, 9: 1.0, 10: 0.1, 14: 0.1}
    for it, factor in expected.items():
        assert s.factor(it) == pytest.approx(factor), it


def test_cosine_and_constant_schedules_hand_computed():
    cfg = toy_config(schedule="cosine", epochs=2, warmup_iters=2, warmup_ratio=0.5, min_lr_ratio=0.05)
    s = LrSchedule(cfg, iters_per_epoch=5)  # cosine over iterations 2..10
    assert s.factor(0) == pytest.approx(0.5)
    assert s.factor(2) == pytest.approx(1.0)
    assert s.factor(6) == pytest.approx(0.525)  # half-way: 0.05 + 0.95 / 2
    assert s.factor(4) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert s.factor(10) == pytest.approx(0.05)
    assert LrSchedule(toy_config(schedule="constant", warmup_iters=0), 5).factor(7) == 1.0


def test_lr_changes_every_iteration_as_scheduled(tmp_path):
    cfg = toy_config(epochs=2, lr=0.1, warmup_iters=3, warmup_ratio=0.2, min_lr_ratio=0.0, log_interval=1)
    make_trainer(tmp_path, cfg, n=16).fit()  # 4 iterations per epoch, 8 in all
    logged = [r["lr"] for r in rows(tmp_path, "train")]
    warm = [0.2 + 0.8 * i / 3 for i in range(3)]
    cosine = [0.5 * (1 + math.cos(math.pi * (i - 3) / 5)) for i in range(3, 8)]
    assert logged == pytest.approx([0.1 * f for f in warm + cosine])


def test_no_weight_decay_on_norm_and_bias():
    estimator = ToyEstimator()
    conv, bn, linear = estimator.model[0], estimator.model[1], estimator.model[-1]
    groups = SupervisedStrategy(estimator).parameter_groups(0.05, no_decay_norm_bias=True)
    by_decay = {g["weight_decay"]: {id(p) for p in g["params"]} for g in groups}
    assert by_decay[0.05] == {id(conv.weight), id(linear.weight)}
    assert by_decay[0.0] == {id(conv.bias), id(bn.weight), id(bn.bias), id(linear.bias)}
    single = SupervisedStrategy(estimator).parameter_groups(0.05, no_decay_norm_bias=False)
    assert len(single) == 1 and len(single[0]["params"]) == 6


def test_frozen_parameters_are_not_optimised():
    estimator = ToyEstimator()
    estimator.model[0].requires_grad_(False)
    groups = SupervisedStrategy(estimator).parameter_groups(0.0, True)
    assert sum(len(g["params"]) for g in groups) == 4


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                       ("sgd", torch.optim.SGD)])
def test_build_optimizer(name, cls):
    cfg = toy_config(optimizer=name, lr=0.3, momentum=0.8)
    groups = SupervisedStrategy(ToyEstimator()).parameter_groups(0.01, True)
    opt = build_optimizer(cfg, groups)
    assert type(opt) is cls and all(g["lr"] == 0.3 for g in opt.param_groups)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0]
    if name == "sgd":
        assert opt.param_groups[0]["momentum"] == 0.8


def test_gradient_clipping_matches_manual_update(tmp_path):
    # One SGD step with lr 1 and no momentum: the update is exactly minus the clipped gradient.
    cfg = toy_config(epochs=1, optimizer="sgd", lr=1.0, momentum=0.0, weight_decay=0.0, warmup_iters=0,
                     schedule="constant", clip_grad=0.05, log_interval=1)
    seed_everything(0)
    estimator = ToyEstimator(plain=True)
    before = copy.deepcopy(estimator)
    data = ToyDataset(8, noise=False)
    trainer = Trainer(cfg, SupervisedStrategy(estimator), toy_loader(data, 8), tmp_path)
    trainer.fit()
    before.loss({"image": data.images, "target": data.targets})["loss"].backward()
    grads = [p.grad for p in before.parameters()]
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    assert norm > 0.05 and rows(tmp_path, "train")[0]["grad_norm"] == pytest.approx(float(norm), rel=1e-5)
    for p0, p1, g in zip(before.parameters(), estimator.parameters(), grads):
        torch.testing.assert_close(p1, p0 - g * 0.05 / norm, rtol=1e-5, atol=1e-6)


def test_max_iters_per_epoch_caps_each_epoch(tmp_path):
    result = make_trainer(tmp_path, toy_config(epochs=3, max_iters_per_epoch=2)).fit()
    assert result["iterations"] == 6 and result["epochs"] == 3
    assert [r["iteration"] for r in rows(tmp_path, "epoch")] == [2, 4, 6]


def test_amp_is_off_on_cpu(tmp_path):
    trainer = make_trainer(tmp_path, toy_config(amp=True))
    assert not trainer.use_amp and not trainer.scaler.is_enabled()


def test_ema_matches_hand_computed_average():
    module = torch.nn.Linear(1, 1, bias=False)
    ema = ModelEMA(module, momentum=0.1, gamma=2.0)
    expected = None
    for step, value in enumerate([1.0, 3.0, -2.0]):
        module.weight.data.fill_(value)
        ema.update(module)
        m = 0.9 * math.exp(-(1 + step) / 2.0) + 0.1
        expected = value if step == 0 else (1 - m) * expected + m * value
    assert ema.module.weight.item() == pytest.approx(expected)


def test_ema_weights_are_validated_and_saved(tmp_path):
    seen = []

    def evaluate(estimator, flip_test):
        seen.append(copy.deepcopy(estimator.state_dict()))
        return toy_evaluate(estimator, flip_test)

    trainer = make_trainer(tmp_path, toy_config(epochs=2, ema=True, ema_momentum=0.3), evaluate=evaluate)
    trainer.fit()
    live = trainer.strategy.estimator.state_dict()
    averaged = trainer.ema.module.estimator.state_dict()
    assert not torch.equal(live["model.0.weight"], averaged["model.0.weight"])
    for key in averaged:
        assert torch.equal(seen[-1][key], averaged[key])
        assert torch.equal(load_checkpoint(tmp_path / "last.pt")["estimator"][key], averaged[key])


def test_best_checkpoint_follows_the_metric(tmp_path):
    scores = iter([1.0, 3.0, 2.0])
    stats = iter([{"kept": 0.5}, {"kept": 0.6}, {"kept": 0.7}])

    class Stats(SupervisedStrategy):
        def log_stats(self):
            return next(stats)

    trainer = make_trainer(tmp_path, toy_config(epochs=3), strategy=Stats(ToyEstimator()),
                           evaluate=lambda est, flip: {"AP": next(scores), "AR": 0.0})
    result = trainer.fit()
    assert (result["best_metric"], result["best_epoch"], result["metric"]) == (3.0, 1, "AP")
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == 2 and best["best_metric"] == 3.0
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3
    epochs = rows(tmp_path, "epoch")
    assert [r["val/AP"] for r in epochs] == [1.0, 3.0, 2.0]
    assert [r["stats/kept"] for r in epochs] == [0.5, 0.6, 0.7]


def test_metrics_log_and_curves(tmp_path):
    make_trainer(tmp_path, toy_config(epochs=2, log_interval=4), evaluate=toy_evaluate).fit()
    train = rows(tmp_path, "train")
    assert [r["iteration"] for r in train] == [4, 8, 12]  # 6 iterations per epoch
    assert {"loss", "loss_mse", "lr", "grad_norm", "epoch"} <= train[0].keys()
    assert train[0]["loss"] == pytest.approx(2 * train[0]["loss_mse"])
    epoch = rows(tmp_path, "epoch")[-1]
    assert epoch["val/mse"] == pytest.approx(-epoch["val/score"]) and "train/loss" in epoch
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    digest = {}

    class Diverging(SupervisedStrategy):
        def loss(self, batch, epoch, iteration):
            out = super().loss(batch, epoch, iteration)
            if iteration == 8:  # epoch 1, third batch
                digest["before"] = hashlib.sha256((tmp_path / "last.pt").read_bytes()).hexdigest()
                out["loss"] = out["loss"] * float("nan")
            return out

    trainer = make_trainer(tmp_path, toy_config(epochs=3), strategy=Diverging(ToyEstimator()),
                           checkpoint_interval=1)
    with pytest.raises(NonFiniteLossError, match="epoch 1, iteration 2 .*global iteration 8"):
        trainer.fit()
    assert hashlib.sha256((tmp_path / "last.pt").read_bytes()).hexdigest() == digest["before"]
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["iteration"] == 8
    assert all(torch.isfinite(v).all() for v in ckpt["strategy"].values() if v.is_floating_point())


def test_missing_loss_entry_is_a_clear_error(tmp_path):
    class NoLoss(SupervisedStrategy):
        def loss(self, batch, epoch, iteration):
            return {"mse": super().loss(batch, epoch, iteration)["loss"]}

    with pytest.raises(KeyError, match="no 'loss' entry"):
        make_trainer(tmp_path, toy_config(epochs=1), strategy=NoLoss(ToyEstimator())).fit()


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    """Into a log (stderr not a terminal): plain lines, at the epoch's end at least, and no bar's
    carriage returns."""
    import posekit.training.engine as engine
    monkeypatch.setattr(engine, "REPORT_SECONDS", 0.0)
    make_trainer(tmp_path, toy_config(epochs=2), n=8).fit()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert "epoch 0 iteration 2/2 loss" in err and "epoch 1 iteration 2/2 loss" in err and len(lines) >= 4
    assert "\r" not in err


def test_replaced_samples_are_summed_once_per_epoch(tmp_path, capsys):
    class SomeReplaced(ToyDataset):
        def __getitem__(self, i):
            return {**super().__getitem__(i), "replaced": i in (0, 5)}

    seed_everything(0)
    trainer = Trainer(toy_config(epochs=2), SupervisedStrategy(ToyEstimator()), toy_loader(SomeReplaced(8), 4),
                      tmp_path)
    trainer.fit()
    epochs = rows(tmp_path, "epoch")
    assert [r["train/replaced_samples"] for r in epochs] == [2.0, 2.0]
    assert capsys.readouterr().err.count("training sample(s) replaced by readable ones") == 2


def test_stop_epoch_ends_early_and_continues_exactly(tmp_path):
    """stop_epoch ends a run early on the full schedule; raising it resumes as if never stopped."""
    full = make_trainer(tmp_path / "full", toy_config(epochs=3))
    full.fit()
    staged = make_trainer(tmp_path / "staged", toy_config(epochs=3, stop_epoch=1))
    staged.fit()
    assert staged.epoch == 1 and rows(tmp_path / "staged", "epoch")[-1]["epoch"] == 0
    rest = make_trainer(tmp_path / "staged", toy_config(epochs=3), resume=True)
    rest.fit()
    for a, b in zip(rest.strategy.state_dict().values(), full.strategy.state_dict().values()):
        assert torch.equal(a, b)
