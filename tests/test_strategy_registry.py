"""Strategies by name: the registry, a new strategy built from a config without touching experiment.py,
and checkpoints that record each network's zoo model so that any one network loads without knowing the
strategy (and old checkpoints without that record still load)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from _toy_training import LabeledHeatmaps
from posekit import experiment
from posekit.config import ConfigError, ExperimentConfig, from_dict, to_dict
from posekit.estimators.base import Estimator
from posekit.estimators.topdown import build_topdown_estimator
from posekit.models.zoo import TOPDOWN, register_model
from posekit.training import Trainer, seed_everything
from posekit.training.checkpoint import load_checkpoint, save_checkpoint
from posekit.training.distributed import make_sampler
from posekit.training.strategies import Strategy, register_strategy, registry, strategy_names
from posekit.training.strategies.distill import build_distill
from posekit.training.strategies.posedual import build_posedual
from posekit.training.strategies.sspcm import build_sspcm
from posekit.training.strategies.supervised import build_supervised

NARROW, WIDE = "test-registry-narrow", "test-registry-wide"


def _tiny(width: int) -> Callable[..., torch.nn.Module]:
    def build(num_keypoints: int, input_size: tuple[int, int]) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Conv2d(3, width, 3, stride=4, padding=1), torch.nn.ReLU(),
                                   torch.nn.Conv2d(width, num_keypoints, 3, padding=1))
    return build


# Two stride-4 heatmap networks of different widths: one's weights never fit the other.
for _name, _width in ((NARROW, 4), (WIDE, 8)):
    register_model(_name, estimator=TOPDOWN, input_size=(32, 64), keypoint_set="lsp14",
                   codec={"name": "heatmap", "output_stride": 4, "sigma": 1.0})(_tiny(_width))


# ------------------------------------------------------------------------------ a new strategy
@dataclass
class PairParams:
    right: str = ""  # zoo name of the second network; default: model.name


class PairStrategy(Strategy):
    """Two networks trained side by side, in slots no built-in strategy uses."""

    def __init__(self, left: Estimator, right: Estimator):
        super().__init__()
        self.left, self.right = left, right

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        return {"loss": self.left.loss(batch)["loss"] + self.right.loss(batch)["loss"]}

    def evaluation_targets(self) -> dict[str, Estimator]:
        return {"left": self.left, "right": self.right}


@register_strategy("test-pair")
def build_pair(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> PairStrategy:
    params = from_dict(PairParams, cfg.strategy_params, prefix="strategy_params")
    right = params.right or cfg.model.name
    right_cfg = from_dict(ExperimentConfig, {**to_dict(cfg), "model": {"name": right}})
    strategy = PairStrategy(estimator_factory(), experiment.build_estimator(right_cfg))
    return strategy.set_networks({"left": (cfg.model.name, cfg.model.params), "right": (right, {})})


def _config(strategy: str, **strategy_params: Any) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {
        "strategy": strategy,
        "data": {"keypoint_set": "lsp14", "input_size": [32, 64], "batch_size": 2, "workers": 0},
        "model": {"name": NARROW},
        "codec": {"name": "heatmap", "params": {"output_stride": 4, "sigma": 1.0}},
        "train": {"epochs": 1, "lr": 1e-3, "max_iters_per_epoch": 1, "val_interval": 0, "log_interval": 1},
        "strategy_params": strategy_params,
    })


def test_builders_are_registered_where_they_are_defined():
    assert {"supervised", "distill", "posedual", "sspcm", "test-pair"} <= set(strategy_names())
    for name, builder in (("supervised", build_supervised), ("distill", build_distill),
                          ("posedual", build_posedual), ("sspcm", build_sspcm), ("test-pair", build_pair)):
        assert registry.get_strategy_builder(name) is builder


def test_an_unknown_strategy_is_a_config_error_listing_the_registered_ones():
    with pytest.raises(ConfigError, match="config key 'strategy': unknown strategy 'nope'") as error:
        experiment.build_strategy(_config("nope"), lambda: None)
    assert all(name in str(error.value) for name in ("distill", "posedual", "sspcm", "supervised"))


def test_a_registered_strategy_builds_from_a_config():
    cfg = _config("test-pair", right=WIDE)
    strategy = experiment.build_strategy(cfg, lambda: experiment.build_estimator(cfg))
    assert isinstance(strategy, PairStrategy)
    assert strategy.networks() == {"left": (NARROW, {}), "right": (WIDE, {})}
    with pytest.raises(ConfigError, match="strategy_params.rigth"):
        experiment.build_strategy(_config("test-pair", rigth=WIDE), lambda: experiment.build_estimator(cfg))


def test_a_builder_must_name_the_networks_it_evaluates(monkeypatch):
    cfg = _config("test-unnamed")
    monkeypatch.setitem(registry._STRATEGIES._entries, "test-unnamed",
                        lambda cfg, factory: PairStrategy(factory(), factory()))
    with pytest.raises(TypeError, match="network\\(s\\) left, right: its builder must call set_networks"):
        experiment.build_strategy(cfg, lambda: experiment.build_estimator(cfg))
    with pytest.raises(ValueError, match="no network attribute middle"):
        PairStrategy(experiment.build_estimator(cfg), experiment.build_estimator(cfg)).set_networks(
            {"middle": (NARROW, {})})


# --------------------------------------------------------------------------------- checkpoints
def _train(cfg: ExperimentConfig, strategy: Strategy, out: Path) -> Path:
    """One step and a checkpoint, with the metadata experiment.train writes."""
    data = LabeledHeatmaps(4)
    loader = DataLoader(data, batch_size=2, sampler=make_sampler(data, 0), num_workers=0)
    Trainer(cfg.train, strategy, loader, out, device="cpu", metadata={"experiment": to_dict(cfg)}).fit()
    return out / "last.pt"


def _same_weights(estimator: Estimator, network: Estimator) -> bool:
    theirs = network.state_dict()
    return estimator.state_dict().keys() == theirs.keys() and all(
        torch.equal(v, theirs[k]) for k, v in estimator.state_dict().items())


def test_a_checkpoint_records_each_network_and_any_one_loads_without_strategy_knowledge(tmp_path):
    seed_everything(0)
    cfg = _config("test-pair", right=WIDE)
    strategy = experiment.build_strategy(cfg, lambda: experiment.build_estimator(cfg))
    checkpoint = _train(cfg, strategy, tmp_path / "run")
    assert load_checkpoint(checkpoint)["metadata"]["networks"] == {
        "left": {"model": NARROW, "params": {}}, "right": {"model": WIDE, "params": {}}}
    loaded_cfg, right = experiment.load_experiment(checkpoint, network="right")
    assert loaded_cfg.model.name == WIDE and _same_weights(right, strategy.right)
    loaded_cfg, left = experiment.load_experiment(checkpoint)
    assert loaded_cfg.model.name == NARROW and _same_weights(left, strategy.left)
    with pytest.raises(ValueError, match="no network 'bogus'; it holds left, right"):
        experiment.load_experiment(checkpoint, network="bogus")


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f"im{i}.jpg"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    return folder


def _sspcm_checkpoint(tmp_path: Path, folder: Path) -> tuple[Path, Strategy]:
    seed_everything(0)
    cfg = _config("sspcm", teachers=[NARROW, WIDE], unlabeled={"format": "images", "path": str(folder), "workers": 0},
                  patch_half_size=[2, 4], jitter_sd=1.0)
    strategy = experiment.build_strategy(cfg, lambda: experiment.build_estimator(cfg))
    return _train(cfg, strategy, tmp_path / "sspcm"), strategy


def test_an_sspcm_checkpoint_loads_each_teacher_and_the_student(tmp_path, image_folder):
    checkpoint, strategy = _sspcm_checkpoint(tmp_path, image_folder)
    assert {slot: entry["model"] for slot, entry in load_checkpoint(checkpoint)["metadata"]["networks"].items()} == {
        "teacher1": NARROW, "teacher2": WIDE, "student": NARROW}
    for network, name in (("teacher1", NARROW), ("teacher2", WIDE), ("student", NARROW), (None, NARROW)):
        loaded_cfg, estimator = experiment.load_experiment(checkpoint, network=network)
        assert loaded_cfg.model.name == name
        assert _same_weights(estimator, getattr(strategy, network or "student"))


def test_an_old_checkpoint_without_the_record_still_loads(tmp_path, image_folder):
    checkpoint, strategy = _sspcm_checkpoint(tmp_path, image_folder)
    state = load_checkpoint(checkpoint)
    del state["metadata"]["networks"]  # as written before checkpoints recorded their networks
    old = tmp_path / "old.pt"
    save_checkpoint(state, old)
    loaded_cfg, teacher2 = experiment.load_experiment(old, network="teacher2")  # named by strategy_params.teachers
    assert loaded_cfg.model.name == WIDE and _same_weights(teacher2, strategy.teacher2)
    loaded_cfg, student = experiment.load_experiment(old)
    assert loaded_cfg.model.name == NARROW and _same_weights(student, strategy.student)
    with pytest.raises(ValueError, match="no network 'bogus'; it holds student, teacher1, teacher2"):
        experiment.load_experiment(old, network="bogus")


def test_a_distillation_checkpoint_loads_the_teacher_its_checkpoint_named(tmp_path):
    """The teacher's zoo name is in the teacher checkpoint's config only, not in strategy_params:
    the record is the one place that names it."""
    seed_everything(0)
    size = (64, 64)
    teacher = build_topdown_estimator("rtmpose-s", "lsp14", size)
    teacher_cfg = from_dict(ExperimentConfig, {"model": {"name": "rtmpose-s"},
                                               "data": {"keypoint_set": "lsp14", "input_size": list(size)}})
    teacher_path = tmp_path / "teacher.pt"
    save_checkpoint({"strategy": {}, "estimator": teacher.state_dict(),
                     "metadata": {"experiment": to_dict(teacher_cfg)}}, teacher_path)
    cfg = from_dict(ExperimentConfig, {
        "strategy": "distill", "model": {"name": "rtmpose-t"}, "codec": {"name": "simcc"},
        "data": {"keypoint_set": "lsp14", "input_size": list(size)},
        "train": {"epochs": 1, "max_iters_per_epoch": 1, "val_interval": 0, "optimizer": "adamw"},
        "strategy_params": {"stage": 1, "teacher": {"checkpoint": str(teacher_path)}}})
    strategy = experiment.build_strategy(cfg, lambda: experiment.build_estimator(cfg))
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(2):
        labels = strategy.student.codec.encode(rng.uniform(4, 60, size=(14, 2)).astype(np.float32),
                                               np.ones(14, dtype=np.float32))
        samples.append({"image": torch.randn(3, 64, 64), **{k: torch.from_numpy(v) for k, v in labels.items()}})
    loader = DataLoader(samples, batch_size=2, sampler=make_sampler(samples, 0))
    Trainer(cfg.train, strategy, loader, tmp_path / "run", device="cpu",
            metadata={"experiment": to_dict(cfg)}).fit()
    loaded_cfg, loaded = experiment.load_experiment(tmp_path / "run" / "last.pt", network="teacher")
    assert loaded_cfg.model.name == "rtmpose-s" and _same_weights(loaded, strategy.teacher)
    assert experiment.load_experiment(tmp_path / "run" / "last.pt")[0].model.name == "rtmpose-t"
