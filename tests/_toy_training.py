"""A tiny estimator, data set and evaluation for the engine tests, and a script entry point that
trains it (used by the SIGKILL resume test and the torchrun DDP test).

    python tests/_toy_training.py OUT_DIR [--sleep S] [--checkpoint-interval N] [--resume] [--batch B] [--plain]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from posekit.config import TrainConfig
from posekit.estimators.base import Estimator
from posekit.keypoints import get_keypoint_set
from posekit.training import SupervisedStrategy, Trainer, seed_everything
from posekit.training.distributed import cleanup, init_from_env, make_sampler


class ToyEstimator(Estimator):
    """conv -> (BN) -> ReLU -> (dropout) -> pool -> linear, regressing a 2-vector by MSE."""

    default_metric = "score"

    def __init__(self, plain: bool = False):
        layers: list[nn.Module] = [nn.Conv2d(3, 4, 3, padding=1)]
        if not plain:  # BN and dropout exercise buffers and RNG; the DDP equality test leaves them out
            layers += [nn.BatchNorm2d(4)]
        layers += [nn.ReLU()]
        if not plain:
            layers += [nn.Dropout(0.2)]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)]
        super().__init__(nn.Sequential(*layers), codec=None, keypoint_set=get_keypoint_set("coco17"))

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        mse = ((self(batch["image"]) - batch["target"]) ** 2).mean()
        return {"loss": 2.0 * mse, "loss_mse": mse}



class LabeledHeatmaps(Dataset):
    """`n` fixed random 64x32 crops with lsp14-shaped heatmap targets (14, 16, 8): labeled batches for
    the semi-supervised and strategy tests' tiny heatmap models."""

    def __init__(self, n: int = 6):
        g = torch.Generator().manual_seed(1)
        self.images = torch.randn(n, 3, 64, 32, generator=g)
        self.heatmaps = torch.rand(n, 14, 16, 8, generator=g) * 0.2

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"image": self.images[i], "heatmaps": self.heatmaps[i], "keypoint_weights": torch.ones(14)}

class ToyDataset(Dataset):
    """Fixed seeded images and targets, plus per-read noise from the global torch and numpy RNGs
    (a stand-in for random augmentation) when `noise`."""

    def __init__(self, n: int = 24, noise: bool = True, seed: int = 123):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 3, 8, 8, generator=g)
        self.targets = torch.randn(n, 2, generator=g)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        image = self.images[i]
        if self.noise:
            image = image + 0.1 * torch.randn_like(image) + float(np.random.uniform(-0.1, 0.1))
        return {"image": image, "target": self.targets[i], "index": i}


def toy_evaluate(estimator: Estimator, flip_test: bool) -> dict[str, float]:
    data = ToyDataset(8, noise=False, seed=7)
    mse = float(((estimator(data.images) - data.targets) ** 2).mean())
    return {"score": -mse, "mse": mse}


def toy_config(**overrides: Any) -> TrainConfig:
    base = dict(epochs=3, optimizer="adamw", lr=1e-2, weight_decay=0.01, schedule="cosine", warmup_iters=4,
                warmup_ratio=0.1, min_lr_ratio=0.05, clip_grad=1.0, log_interval=2, seed=0)
    base.update(overrides)
    return TrainConfig(**base)


def toy_loader(dataset: Dataset, batch_size: int, seed: int = 0, workers: int = 0) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, sampler=make_sampler(dataset, seed), num_workers=workers)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out_dir")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--checkpoint-interval", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--plain", action="store_true")
    p.add_argument("--pause-before-replace", type=float, default=0.0,
                   help="when an existing last.pt is about to be replaced, print REPLACING and wait (kill drills)")
    args = p.parse_args(argv)
    if args.pause_before_replace:
        replace = os.replace

        def slow_replace(src, dst):  # the new file is complete on disk; the old last.pt is still in place
            if Path(dst).name == "last.pt" and Path(dst).exists():
                print("REPLACING", flush=True)
                time.sleep(args.pause_before_replace)
            replace(src, dst)
        os.replace = slow_replace
    torch.set_num_threads(1)
    init_from_env()  # before the sampler, which shards by the world size
    seed_everything(0, deterministic=True)
    estimator = ToyEstimator(plain=args.plain)

    class SlowStrategy(SupervisedStrategy):
        def loss(self, batch, epoch, iteration):
            time.sleep(args.sleep)  # leaves time to kill the process between checkpoints
            return super().loss(batch, epoch, iteration)

    dataset = ToyDataset(noise=not args.plain)
    trainer = Trainer(toy_config(ema=not args.plain), SlowStrategy(estimator), toy_loader(dataset, args.batch),
                      args.out_dir, evaluate=toy_evaluate, checkpoint_interval=args.checkpoint_interval,
                      resume=args.resume)
    trainer.fit()
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    torch.save(trainer.strategy.state_dict(), Path(args.out_dir) / f"final_rank{rank}.pt")
    print("finished", flush=True)
    cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
