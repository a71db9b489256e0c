"""The one training loop: any Strategy, one optimizer, per-iteration lr schedule, AMP on CUDA,
gradient clipping, EMA, DDP under torchrun, atomic checkpoints with exact resume, progress bars,
metrics.jsonl and curves.png.

Exact resume: the data order of an epoch depends only on (seed, epoch) (the sampler's set_epoch
and the loader's generator, which seeds its workers), so a run resumed mid-epoch rebuilds the
epoch's iterator, reads past the batches already done, then restores the RNG states saved with
the checkpoint; the remaining steps then see the same batches and random numbers as before.
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from posekit.config import TrainConfig, to_dict
from posekit.estimators.base import Estimator
from posekit.training import distributed
from posekit.training.checkpoint import load_checkpoint, network_record, rng_state, save_checkpoint, set_rng_state
from posekit.training.curves import plot_curves
from posekit.training.ema import ModelEMA
from posekit.training.precise_bn import recompute_batchnorm
from posekit.training.schedule import LrSchedule
from posekit.training.strategies.base import Strategy

EvaluateFn = Callable[[Estimator, bool], dict[str, float]]


class OutputWriteError(RuntimeError):
    """The run's output folder cannot be written (permissions, full disk); the message names the file."""

REPORT_SECONDS = 30.0  # how often training prints a progress line when stderr is not a terminal


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or inf; the last checkpoint on disk is the last good state."""


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's, numpy's and torch's global generators; `deterministic` also makes cuDNN and
    cuBLAS pick deterministic kernels (slower, and an op without one raises)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by cuBLAS
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def build_optimizer(cfg: TrainConfig, groups: list[dict]) -> torch.optim.Optimizer:
    """Adam, AdamW, or else SGD with cfg.momentum, at cfg.lr; the groups carry their own weight decay."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)


def to_device(obj: Any, device: torch.device) -> Any:
    """`obj` with every tensor inside nested dicts, lists and tuples moved (non-blocking); other values kept."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


class Trainer:
    """Trains a strategy on `train_loader`, writing last.pt, best.pt, metrics.jsonl and curves.png to
    out_dir. `evaluate(estimator, flip_test)` returns validation metrics (rank 0 only); resume=True
    requires out_dir/last.pt, another true value ("auto") resumes only where it exists;
    `checkpoint_interval` > 0 also saves last.pt every that many iterations."""

    def __init__(self, cfg: TrainConfig, strategy: Strategy, train_loader: DataLoader, out_dir: str | Path,
                 evaluate: EvaluateFn | None = None, train_sampler: Any = None, checkpoint_interval: int = 0,
                 resume: bool | str = False, device: torch.device | str | None = None,
                 metadata: dict[str, Any] | None = None):
        self.cfg, self.strategy, self.loader, self.evaluate = cfg, strategy, train_loader, evaluate
        # Stored in every checkpoint (e.g. the experiment config) so a checkpoint alone rebuilds its model.
        self.metadata = dict(metadata or {})
        self.out_dir = Path(out_dir)
        self.sampler = train_sampler if train_sampler is not None else getattr(train_loader, "sampler", None)
        if isinstance(self.sampler, RandomSampler):
            warnings.warn("the train loader shuffles with a RandomSampler, whose order does not depend on "
                          "the epoch: a resumed run will not be exact; use training.distributed.make_sampler",
                          stacklevel=2)
        self.checkpoint_interval = checkpoint_interval
        self.device = torch.device(device) if device is not None else distributed.init_from_env().device
        self.main = distributed.is_main()
        replicas = getattr(self.sampler, "num_replicas", None)
        if replicas is not None and replicas != distributed.world_size_():
            raise ValueError(f"the train sampler shards over {replicas} processes but {distributed.world_size_()} "
                             "are running: call training.distributed.init_from_env() before make_sampler()")
        self.iters_per_epoch = len(train_loader)
        if cfg.max_iters_per_epoch > 0:
            self.iters_per_epoch = min(self.iters_per_epoch, cfg.max_iters_per_epoch)
        if self.iters_per_epoch == 0:
            raise ValueError("the training loader is empty: no batch to train on")
        strategy.to(self.device)
        self.model = distributed.wrap(strategy, self.device, strategy.find_unused_parameters)
        groups = strategy.parameter_groups(cfg.weight_decay, cfg.no_decay_norm_bias)
        self.optimizer = build_optimizer(cfg, groups)
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.schedule = LrSchedule(cfg, self.iters_per_epoch)
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.use_amp)
        self.ema = ModelEMA(strategy, cfg.ema_momentum) if cfg.ema else None
        self.epoch, self.iteration, self.batches_done = 0, 0, 0
        self.best_metric: float | None = None
        self.best_epoch = -1
        self.metric_name = cfg.metric
        self.last_metrics: dict[str, float] = {}
        self.epoch_sums: dict[str, float] = {}
        self.replaced = 0  # training samples of this epoch whose unreadable image was replaced
        self.window: dict[str, list[float]] = {}
        self.pending_rng: dict | None = None
        self.metrics_path = self.out_dir / "metrics.jsonl"
        if self.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        last = self.out_dir / "last.pt"
        if resume is True and not last.is_file():
            raise FileNotFoundError(f"{last}: cannot resume, no checkpoint there")
        if resume and last.is_file():
            self._load(last)
        elif self.main and self.metrics_path.exists():
            self.metrics_path.unlink()  # a fresh run starts a fresh log

    # ----------------------------------------------------------------------------------- loop
    def fit(self) -> dict[str, Any]:
        """Train from the current (or resumed) epoch up to cfg.epochs (or cfg.stop_epoch); returns the
        epoch and iteration counts, the metric's name, best value and epoch, and the last metrics."""
        last = min(self.cfg.epochs, self.cfg.stop_epoch) if self.cfg.stop_epoch > 0 else self.cfg.epochs
        for epoch in range(self.epoch, last):
            self._train_epoch(epoch)
            self._precise_bn(epoch)  # before on_epoch_end: SSPCM's snapshot copies the recomputed statistics
            self.strategy.on_epoch_end(epoch)
            metrics = self._validate(epoch)
            improved = self._update_best(metrics, epoch)
            self.epoch, self.batches_done = epoch + 1, 0
            self._log_epoch(epoch, metrics)
            self.epoch_sums = {}
            self._save(["last.pt", "best.pt"] if improved else ["last.pt"])
            if self.main:
                try:
                    plot_curves(self.metrics_path, self.out_dir / "curves.png")
                except OSError as exc:  # the plot is a convenience; checkpoints and metrics are written
                    print(f"warning: {self.out_dir / 'curves.png'}: cannot write the curves plot "
                          f"({exc.strerror or exc})", file=sys.stderr)
        distributed.barrier()
        return {"epochs": self.epoch, "iterations": self.iteration, "metric": self.metric_name,
                "best_metric": self.best_metric, "best_epoch": self.best_epoch, "final": self.last_metrics}

    def _train_epoch(self, epoch: int) -> None:
        self.strategy.train()
        self.strategy.on_epoch_start(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        # Datasets draw each sample's augmentation from (seed, epoch, index): without this every
        # epoch would repeat epoch 0's augmentation. Set before the workers copy the dataset.
        if hasattr(self.loader.dataset, "set_epoch"):
            self.loader.dataset.set_epoch(epoch)
        # Seeds the loader's workers from (seed, epoch, rank), not from the global RNG.
        seed = (self.cfg.seed * 1_000_003 + epoch) * 1009 + distributed.rank()
        self.loader.generator = torch.Generator().manual_seed(seed % 2**63)
        batches = iter(self.loader)
        for _ in range(self.batches_done):  # resuming inside this epoch: read past what is done
            next(batches)
        if self.pending_rng is not None:
            set_rng_state(self.pending_rng)
            self.pending_rng = None
        terminal = sys.stderr.isatty()
        bar = tqdm(total=self.iters_per_epoch, initial=self.batches_done, desc=f"epoch {epoch}",
                   disable=not (self.main and terminal), dynamic_ncols=True)
        last_report = time.time()
        for index in range(self.batches_done, self.iters_per_epoch):
            losses = self._step(next(batches), epoch, index)
            self.batches_done = index + 1
            bar.update(1)
            lr = self.optimizer.param_groups[0]["lr"]
            bar.set_postfix(loss=f"{losses['loss']:.4g}", lr=f"{lr:.3g}")
            # Logs (stderr not a terminal) get a plain line every REPORT_SECONDS and at the epoch's end
            # instead of a progress bar's carriage returns.
            if self.main and not terminal and (time.time() - last_report >= REPORT_SECONDS
                                               or self.batches_done == self.iters_per_epoch):
                print(f"epoch {epoch} iteration {self.batches_done}/{self.iters_per_epoch} "
                      f"loss {losses['loss']:.4g} lr {lr:.3g}", file=sys.stderr, flush=True)
                last_report = time.time()
            interval = self.checkpoint_interval
            if interval > 0 and self.iteration % interval == 0 and self.batches_done < self.iters_per_epoch:
                self._save(["last.pt"])
        bar.close()

    def _step(self, batch: Any, epoch: int, index: int) -> dict[str, float]:
        if isinstance(batch, dict) and "replaced" in batch:  # samples whose image could not be read
            self.replaced += int(torch.as_tensor(batch["replaced"]).sum())
        self.schedule.apply(self.optimizer, self.iteration)
        batch = to_device(batch, self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            out = self.model(batch, epoch, self.iteration)
        if "loss" not in out:
            raise KeyError(f"{type(self.strategy).__name__}.loss returned {sorted(out)}, with no 'loss' entry")
        values = {k: float(v.detach().float()) for k, v in out.items()}
        if not distributed.all_ranks_true(math.isfinite(values["loss"]), self.device):
            raise NonFiniteLossError(
                f"non-finite loss at epoch {epoch}, iteration {index} of the epoch (global iteration "
                f"{self.iteration}): {values}; the last checkpoint in {self.out_dir} is left untouched")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(out["loss"]).backward()
        if self.cfg.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            values["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip_grad))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.strategy)
        self.iteration += 1
        for k, v in values.items():
            self.window.setdefault(k, []).append(v)
            self.epoch_sums[k] = self.epoch_sums.get(k, 0.0) + v
        self.epoch_sums["_count"] = self.epoch_sums.get("_count", 0.0) + 1
        if self.iteration % max(1, self.cfg.log_interval) == 0:
            row = {k: sum(v) / len(v) for k, v in self.window.items()}
            self._write({"type": "train", "epoch": epoch, "iteration": self.iteration,
                         "lr": self.optimizer.param_groups[0]["lr"], **row, "time": time.time()})
            self.window = {}
        return values

    # ----------------------------------------------------------------------------- validation
    def _precise_bn(self, epoch: int) -> None:
        """train.precise_bn_batches > 0: BatchNorm statistics of every evaluated network (the EMA
        copies when EMA is on) recomputed over that many labeled training batches. The batches are
        a (seed, epoch)-seeded choice of samples with this epoch's augmentation, read without the
        training loader (whose order and RNG stay untouched), the same on every rank."""
        batches = self.cfg.precise_bn_batches
        if batches <= 0:
            return
        dataset = self.loader.dataset
        size = self.loader.batch_size or 1
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(
            (self.cfg.seed * 1_000_003 + epoch) % 2**63))[:batches * size].tolist()
        loader = DataLoader(torch.utils.data.Subset(dataset, order), batch_size=size, shuffle=False,
                            num_workers=self.loader.num_workers, collate_fn=self.loader.collate_fn)
        source = self.ema.module if self.ema is not None else self.strategy
        networks = list(source.evaluation_targets().values())
        recompute_batchnorm(networks, (batch["image"].to(self.device) for batch in loader))

    def _validate(self, epoch: int) -> dict[str, float]:
        every = self.cfg.val_interval
        if self.evaluate is None or every <= 0 or ((epoch + 1) % every and epoch + 1 != self.cfg.epochs):
            return {}
        metrics: dict[str, float] = {}
        if self.main:
            source = self.ema.module if self.ema is not None else self.strategy
            for i, (name, estimator) in enumerate(source.evaluation_targets().items()):
                estimator.eval()
                with torch.no_grad():
                    result = self.evaluate(estimator, self.cfg.flip_test)
                # None: a statistic with nothing to compute it on (COCO's APm without medium-sized persons).
                metrics.update({(k if i == 0 else f"{name}/{k}"): None if v is None else float(v)
                                for k, v in result.items()})
                if i == 0 and not self.metric_name:
                    default = getattr(estimator, "default_metric", "")
                    self.metric_name = default if default in result else next(iter(result), "")
        distributed.barrier()
        return metrics

    def _update_best(self, metrics: dict[str, float], epoch: int) -> bool:
        if not metrics:
            return False
        self.last_metrics = metrics
        if self.metric_name not in metrics:
            raise KeyError(f"metric '{self.metric_name}' (train.metric) is not among the evaluation results "
                           f"{sorted(metrics)}")
        value = metrics[self.metric_name]
        if self.best_metric is None or value > self.best_metric:
            self.best_metric, self.best_epoch = value, epoch
            return True
        return False

    # ------------------------------------------------------------------------------- logging
    def _write(self, row: dict[str, Any]) -> None:
        if self.main:
            try:
                with open(self.metrics_path, "a") as f:
                    f.write(json.dumps(row) + "\n")
            except OSError as exc:
                raise OutputWriteError(f"{self.metrics_path}: cannot write metrics ({exc.strerror or exc}); "
                                       f"the last checkpoint in {self.out_dir} is kept") from None

    def _log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        count = max(1.0, self.epoch_sums.get("_count", 0.0))
        train = {f"train/{k}": v / count for k, v in self.epoch_sums.items() if k != "_count"}
        if self.replaced:
            train["train/replaced_samples"] = float(self.replaced)
            if self.main:
                print(f"epoch {epoch}: {self.replaced} training sample(s) replaced by readable ones (unreadable "
                      "images, named in the first epoch's warnings)", file=sys.stderr, flush=True)
            self.replaced = 0
        stats = {f"stats/{k}": float(v) for k, v in self.strategy.log_stats().items()}
        self._write({"type": "epoch", "epoch": epoch, "iteration": self.iteration,
                     "lr": self.optimizer.param_groups[0]["lr"], **train,
                     **{f"val/{k}": v for k, v in metrics.items()}, **stats,
                     "best_metric": self.best_metric, "time": time.time()})

    # --------------------------------------------------------------------------- checkpoints
    def _save(self, names: list[str]) -> None:
        """Called on every rank (it gathers every rank's RNG state); only rank 0 writes."""
        rngs = distributed.all_gather_objects(rng_state())
        if not self.main:
            return
        source = self.ema.module if self.ema is not None else self.strategy
        target_name, deliverable = next(iter(source.evaluation_targets().items()))
        state = {
            "strategy": self.strategy.state_dict(), "strategy_extra": self.strategy.extra_state(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(), "ema": self.ema.state_dict() if self.ema else None,
            "epoch": self.epoch, "batches_done": self.batches_done, "iteration": self.iteration,
            "rng": rngs, "best_metric": self.best_metric, "best_epoch": self.best_epoch,
            "metric_name": self.metric_name, "last_metrics": self.last_metrics, "epoch_sums": self.epoch_sums,
            "log_window": self.window,
            "metrics_bytes": self.metrics_path.stat().st_size if self.metrics_path.exists() else 0,
            "config": to_dict(self.cfg),
            # Each network's zoo model: any one of them loads without knowing the strategy.
            "metadata": {**self.metadata, "networks": network_record(self.strategy.networks())},
            "estimator_name": target_name, "estimator": deliverable.state_dict(),
        }
        for name in names:
            try:
                save_checkpoint(state, self.out_dir / name)
            except OSError as exc:  # read-only folder, full disk: the previous file was never touched
                raise OutputWriteError(f"{self.out_dir / name}: cannot write the checkpoint ({exc.strerror or exc}); "
                                       f"the last good checkpoint there is kept; free space or fix the "
                                       f"folder's permissions and rerun the same command to resume") from None

    def _load(self, path: Path) -> None:
        state = load_checkpoint(path, map_location=self.device)
        self.strategy.load_state_dict(state["strategy"])
        self.strategy.load_extra_state(state["strategy_extra"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        if state["scaler"] and self.use_amp:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if state["ema"] is None:
                raise ValueError(f"{path}: train.ema is on but the checkpoint has no EMA state")
            self.ema.load_state_dict(state["ema"])
        self.epoch, self.batches_done, self.iteration = state["epoch"], state["batches_done"], state["iteration"]
        self.best_metric, self.best_epoch = state["best_metric"], state["best_epoch"]
        self.metric_name = state["metric_name"] or self.metric_name
        self.last_metrics, self.epoch_sums = state["last_metrics"], state["epoch_sums"]
        self.window = state["log_window"]
        rngs = state["rng"]
        rng = rngs[distributed.rank()] if len(rngs) == distributed.world_size_() else rngs[0]
        if self.batches_done == 0:
            set_rng_state(rng)
        else:
            self.pending_rng = rng  # restored after the epoch's done batches are read past
        if self.main and self.metrics_path.exists():
            with open(self.metrics_path, "r+") as f:  # drop lines logged after this checkpoint
                f.truncate(state["metrics_bytes"])
