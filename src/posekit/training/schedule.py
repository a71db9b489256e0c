"""Learning-rate schedules, updated every iteration.

The factor applied to each parameter group's base lr is a pure function of the global iteration:
a linear warm-up from `warmup_ratio` to 1 over `warmup_iters` iterations (mmengine LinearLR by
iteration), multiplied by the main schedule: `step` (x gamma at each epoch in `steps`), `periodic`
(x gamma every `step_every` epochs, with an optional warm restart at `restart_epoch` after which it
steps every `restart_step_every` epochs, as Simple Pose's train_distributed.py), `cosine`
(flat until the warm-up ends and `cosine_begin_epoch` is reached, then from 1 down to
`min_lr_ratio` over the remaining iterations) or `constant`.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from posekit.config import TrainConfig


class LrSchedule:
    """The module docstring's schedule for a run of cfg.epochs epochs of `iters_per_epoch` iterations."""

    def __init__(self, cfg: TrainConfig, iters_per_epoch: int):
        if iters_per_epoch <= 0:
            raise ValueError(f"iters_per_epoch must be positive, got {iters_per_epoch}")
        self.cfg = cfg
        self.iters_per_epoch = iters_per_epoch
        self.total_iters = cfg.epochs * iters_per_epoch
        self.last_iteration = -1

    def factor(self, iteration: int) -> float:
        """The multiplier of the base lr at global `iteration` (0-based): warm-up times main schedule."""
        cfg = self.cfg
        warmup = 1.0
        if cfg.warmup_iters > 0 and iteration < cfg.warmup_iters:
            warmup = cfg.warmup_ratio + (1.0 - cfg.warmup_ratio) * iteration / cfg.warmup_iters
        if cfg.schedule == "step":
            epoch = iteration // self.iters_per_epoch
            main = cfg.gamma ** sum(epoch >= s for s in cfg.steps)
        elif cfg.schedule == "periodic":
            epoch = iteration // self.iters_per_epoch
            if cfg.restart_epoch > 0 and epoch >= cfg.restart_epoch:
                main = cfg.gamma ** ((epoch - cfg.restart_epoch) // cfg.restart_step_every)
            else:
                main = cfg.gamma ** (epoch // cfg.step_every)
        elif cfg.schedule == "cosine":
            begin = max(cfg.warmup_iters, cfg.cosine_begin_epoch * self.iters_per_epoch)
            span = max(1, self.total_iters - begin)
            progress = min(1.0, max(0, iteration - begin) / span)
            main = cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
        else:
            main = 1.0
        return warmup * main

    def apply(self, optimizer: torch.optim.Optimizer, iteration: int) -> None:
        """Set every group's lr for `iteration`; a group's base lr is its lr when first seen."""
        factor = self.factor(iteration)
        for group in optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
            group["lr"] = group["base_lr"] * factor
        self.last_iteration = iteration

    def state_dict(self) -> dict[str, Any]:
        """The last iteration applied and the epoch length, checked again on resume."""
        return {"last_iteration": self.last_iteration, "iters_per_epoch": self.iters_per_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the last iteration; ValueError if the epoch length differs (the schedule would shift)."""
        if state["iters_per_epoch"] != self.iters_per_epoch:
            raise ValueError(f"checkpoint was trained with {state['iters_per_epoch']} iterations per epoch, "
                             f"this run has {self.iters_per_epoch}: the schedule would not continue")
        self.last_iteration = state["last_iteration"]
