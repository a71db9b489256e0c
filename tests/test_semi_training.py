"""SSPCM and PoseDual under the engine's Trainer on tiny synthetic data: the previous epoch's
teachers stay frozen during an epoch, and a run resumed mid-epoch ends with the same networks,
snapshots and unlabeled position as an uninterrupted one."""
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from _toy_training import LabeledHeatmaps
from posekit.config import ExperimentConfig, from_dict
from posekit.models.zoo import TOPDOWN, register_model
from posekit.training import Trainer, seed_everything
from posekit.training.distributed import make_sampler
from posekit.training.strategies.posedual import build_posedual
from posekit.training.strategies.sspcm import build_sspcm


@register_model("test-tiny-heatmap", estimator=TOPDOWN, input_size=(32, 64), keypoint_set="lsp14",
                codec={"name": "heatmap", "output_stride": 4, "sigma": 1.0})
def tiny_heatmap_model(num_keypoints: int, input_size: tuple[int, int]) -> torch.nn.Module:
    """A two-layer stride-4 heatmap network with BN: any zoo heatmap model works, this one is fast."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.BatchNorm2d(8),
                               torch.nn.ReLU(), torch.nn.Conv2d(8, num_keypoints, 3, padding=1))


def _config(folder: Path, strategy: str) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {
        "strategy": strategy,
        "data": {"keypoint_set": "lsp14", "input_size": [32, 64], "batch_size": 2, "workers": 0},
        "model": {"name": "test-tiny-heatmap"},
        "codec": {"name": "heatmap", "params": {"output_stride": 4, "sigma": 1.0}},
        "train": {"epochs": 2, "lr": 1e-3, "max_iters_per_epoch": 3, "val_interval": 0, "log_interval": 1},
        "strategy_params": {"unlabeled": {"format": "images", "path": str(folder), "workers": 0},
                            "patch_half_size": [2, 4], "jitter_sd": 1.0},
    })


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(folder / f"im{i}.jpg"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    return folder


def _trainer(cfg: ExperimentConfig, out: Path, strategy: Any, **kwargs: Any) -> Trainer:
    data = LabeledHeatmaps()
    loader = DataLoader(data, batch_size=2, sampler=make_sampler(data, 0), num_workers=0)
    return Trainer(cfg.train, strategy, loader, out, device="cpu", **kwargs)


def _state(strategy: Any) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in strategy.state_dict().items()}


class Interrupt(Exception):
    pass


def test_snapshot_frozen_within_epoch_and_refreshed_at_its_end(tmp_path, image_folder):
    seed_everything(0)
    cfg = _config(image_folder, "sspcm")
    strategy = build_sspcm(cfg, None)
    seen: list[tuple[int, torch.Tensor, torch.Tensor]] = []
    ends: dict[int, torch.Tensor] = {}
    loss, end = strategy.loss, strategy.on_epoch_end

    def recording_loss(batch, epoch, iteration):
        seen.append((epoch, strategy.teacher1_last[3].weight.clone(), strategy.teacher1.model[3].weight.clone()))
        return loss(batch, epoch, iteration)

    def recording_end(epoch):
        end(epoch)
        ends[epoch] = strategy.teacher1.model[3].weight.clone()

    strategy.loss, strategy.on_epoch_end = recording_loss, recording_end
    _trainer(cfg, tmp_path / "run", strategy).fit()
    epoch1 = [s for s in seen if s[0] == 1]
    assert len(epoch1) == 3
    for _, snapshot, _ in epoch1:  # frozen all epoch long, equal to the teacher at the end of epoch 0
        assert torch.equal(snapshot, ends[0])
    assert not torch.equal(epoch1[-1][2], ends[0])  # while the teacher itself trains on
    assert torch.equal(strategy.teacher1_last[3].weight, ends[1])
    assert int(strategy.snapshot_epoch) == 1
    # The previous epoch's networks run in train mode like the current ones (official last_epoch_model):
    # BatchNorm normalises with the batch's own statistics, not the snapshot's running ones.
    assert strategy.teacher1_last.training and strategy.teacher2_last.training and strategy.teacher1.training
    easy = torch.randn(4, 3, 64, 32) * 3 + 2
    strategy.teacher1_last[1].running_mean.fill_(50.0)  # running statistics must not matter in training
    with torch.no_grad():
        batch_stats = torch.nn.functional.batch_norm(strategy.teacher1_last[0](easy), None, None,
                                                     strategy.teacher1_last[1].weight, strategy.teacher1_last[1].bias,
                                                     training=True)
        expected = strategy.teacher1_last[3](strategy.teacher1_last[2](batch_stats))
        np.testing.assert_allclose(strategy.teacher1_last(easy).numpy(), expected.numpy(), atol=1e-5)
    strategy.eval()
    assert not strategy.teacher1_last.training
    stats = strategy.log_stats()
    assert 0.0 <= stats["masked_share"] <= 1.0 and stats["inconsistency"] >= 0.0


@pytest.mark.parametrize("name,build", [("sspcm", build_sspcm), ("posedual", build_posedual)])
def test_resume_mid_epoch_restores_networks_snapshots_and_unlabeled_position(tmp_path, image_folder, name, build):
    cfg = _config(image_folder, name)
    seed_everything(0)
    straight = build(cfg, None)
    _trainer(cfg, tmp_path / "straight", straight).fit()

    seed_everything(0)
    first = build(cfg, None)
    original = first.loss

    def interrupted(batch, epoch, iteration):
        if iteration == 4:  # second step of epoch 1, after the checkpoint of iteration 4
            raise Interrupt
        return original(batch, epoch, iteration)

    first.loss = interrupted
    with pytest.raises(Interrupt):
        _trainer(cfg, tmp_path / "resumed", first, checkpoint_interval=1).fit()
    seed_everything(123)  # the checkpoint, not the process, must decide what comes next
    second = build(cfg, None)
    trainer = _trainer(cfg, tmp_path / "resumed", second, resume=True)
    assert (trainer.epoch, trainer.batches_done) == (1, 1)
    assert second._resume_at == {"epoch": 1, "position": 1}
    trainer.fit()
    expected, got = _state(straight), _state(second)
    assert expected.keys() == got.keys()
    if name == "sspcm":
        assert any(k.startswith("teacher1_last.") for k in got)
    for key in expected:
        assert torch.allclose(expected[key].float(), got[key].float(), atol=1e-6), key
    assert second.stream.state() == straight.stream.state() == {"epoch": 1, "position": 3}


@pytest.mark.parametrize("name,build", [("sspcm", build_sspcm), ("posedual", build_posedual)])
def test_an_epoch_is_one_pass_over_the_unlabeled_pool(tmp_path, name, build):
    """Official mixed datasets: len = max(labeled, unlabeled), labeled indices redrawn with replacement.
    12 unlabeled images at batch 2 make 6 iterations, though the 6 labeled samples fill only 3."""
    from posekit.experiment import train_sampler
    folder = tmp_path / "pool"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        cv2.imwrite(str(folder / f"im{i}.jpg"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    cfg = _config(folder, name)
    strategy = build(cfg, None)
    assert strategy.epoch_batches() == 6
    sampler = train_sampler(cfg, strategy, LabeledHeatmaps())
    loader = DataLoader(LabeledHeatmaps(), batch_size=2, sampler=sampler, num_workers=0)
    assert len(loader) == 6
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and all(0 <= i < 6 for i in first)
    sampler.set_epoch(0)
    assert list(sampler) == first  # a resumed epoch sees the same draw
    small = tmp_path / "small"
    small.mkdir()
    cv2.imwrite(str(small / "a.jpg"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    assert len(train_sampler(_config(small, name), build(_config(small, name), None), LabeledHeatmaps())) == 6  # labeled larger
