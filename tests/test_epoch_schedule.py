"""Per-epoch behaviour the engine drives: fresh augmentation each epoch, the final-stage
augmentation switch, and a cosine that begins at a chosen epoch."""
import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from posekit.config import AugmentConfig, TrainConfig
from posekit.data.datasets.common import SeededDataset
from posekit.training.engine import Trainer
from posekit.training.schedule import LrSchedule
from posekit.training.strategies import SupervisedStrategy
from posekit.training import distributed


class RecordingDataset(SeededDataset):
    """Each sample is one random draw, so the draws reveal which epoch's RNG was used."""

    def __init__(self):
        super().__init__(seed=3)
        self.augment = None
        self.draws: dict[int, list[float]] = {}
        self.augments: dict[int, object] = {}

    def __len__(self):
        return 4

    def _file(self, index):
        return f"sample{index}"

    def _sample(self, index, rng):
        value = float(rng.random())
        self.draws.setdefault(self.epoch, []).append(value)
        self.augments[self.epoch] = self.augment
        return {"x": torch.tensor([value], dtype=torch.float32)}


class TinyEstimator(torch.nn.Module):
    default_metric = "score"

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def loss(self, batch):
        loss = ((self.w - batch["x"]) ** 2).mean()
        return {"loss": loss}


def test_engine_gives_each_epoch_fresh_augmentation_and_switches_stages(tmp_path):
    dataset = RecordingDataset()
    light = AugmentConfig(rotation=10.0)
    dataset.augment_stages = [(0, AugmentConfig()), (2, light)]
    sampler = distributed.make_sampler(dataset, seed=0)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler)
    cfg = TrainConfig(epochs=3, lr=0.1, val_interval=0, log_interval=1)
    Trainer(cfg, SupervisedStrategy(TinyEstimator()), loader, tmp_path, train_sampler=sampler, device="cpu").fit()
    assert sorted(dataset.draws) == [0, 1, 2]
    assert sorted(dataset.draws[0]) != sorted(dataset.draws[1])  # not epoch 0's draws again
    assert dataset.augments[0].rotation == 40.0 and dataset.augments[1].rotation == 40.0
    assert dataset.augments[2] is light


def test_cosine_begins_at_the_chosen_epoch():
    cfg = TrainConfig(epochs=4, schedule="cosine", cosine_begin_epoch=2, min_lr_ratio=0.05, warmup_iters=0)
    schedule = LrSchedule(cfg, iters_per_epoch=10)
    assert [schedule.factor(i) for i in (0, 10, 19, 20)] == [1.0, 1.0, 1.0, 1.0]
    halfway = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert np.isclose(schedule.factor(30), halfway)
    assert np.isclose(schedule.factor(39), 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))


def test_periodic_schedule_restarts_like_simple_pose():
    """Simple Pose's adjust_learning_rate: factor epoch // 15, and from epoch 78 (epoch - 78) // 5, so the
    lr jumps back to its base at 78 (a warm restart) and drops x0.2 at 83, 88, 93, 98."""
    from posekit.config import TrainConfig
    from posekit.training.schedule import LrSchedule
    cfg = TrainConfig(epochs=100, schedule="periodic", step_every=15, restart_epoch=78, restart_step_every=5,
                      gamma=0.2)
    schedule = LrSchedule(cfg, iters_per_epoch=10)
    expected = {0: 1, 14: 1, 15: 0.2, 30: 0.04, 75: 0.2 ** 5, 77: 0.2 ** 5, 78: 1, 82: 1, 83: 0.2, 93: 0.2 ** 3,
                99: 0.2 ** 4}
    for epoch, factor in expected.items():
        assert abs(schedule.factor(epoch * 10 + 5) - factor) < 1e-12, epoch
    from posekit.config import load_config
    repo = __import__("pathlib").Path(__file__).resolve().parents[1]
    coco = load_config(repo / "configs" / "simplepose-imhn_coco-512.yaml").train
    assert (coco.schedule, coco.step_every, coco.restart_epoch, coco.restart_step_every) == ("periodic", 15, 78, 5)
