"""torch DDP under torchrun: init from the environment, rank helpers, wrapping, samplers.

Without torchrun (no WORLD_SIZE > 1 in the environment) every helper degrades to the
single-process case, so the engine has one code path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler


@dataclass(frozen=True)
class DistInfo:
    """This process's global rank, rank on its node (its CUDA device index), the number of
    processes, and the device it trains on."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device


def init_from_env(timeout: timedelta = timedelta(hours=2)) -> DistInfo:
    """Join the process group torchrun describes (env://): nccl on CUDA, gloo on CPU.

    The long timeout covers rank 0 validating alone while the others wait at a barrier."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", init_method="env://", timeout=timeout)
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return DistInfo(rank(), local_rank, world_size_(), device)


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Global rank of this process; 0 when not distributed."""
    return dist.get_rank() if is_distributed() else 0


def world_size_() -> int:
    """Number of processes in the group; 1 when not distributed."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0, the process that logs, validates and writes checkpoints."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here; a no-op when not distributed."""
    if is_distributed():
        dist.barrier()


def wrap(module: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """DDP-wrap `module` when distributed; the plain module otherwise."""
    if not is_distributed():
        return module
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused_parameters)


def make_sampler(dataset: Dataset, seed: int, shuffle: bool = True, drop_last: bool = False) -> DistributedSampler:
    """The training sampler: a permutation seeded by (seed, epoch) via set_epoch, sharded over
    ranks. Used in single-process runs too, so a resumed epoch sees the same order."""
    return DistributedSampler(dataset, num_replicas=world_size_(), rank=rank(), shuffle=shuffle,
                              seed=seed, drop_last=drop_last)


class ResampledSampler(torch.utils.data.Sampler):
    """`num_samples` indices per rank and epoch drawn with replacement, seeded by (seed, epoch, rank):
    the labeled side of a semi-supervised epoch, which is as long as the unlabeled pool (the official
    mixed datasets redraw labeled indices with replacement to match their length)."""

    def __init__(self, dataset: Dataset, num_samples: int, seed: int):
        self.size, self.num_samples, self.seed, self.epoch = len(dataset), int(num_samples), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Reseed the next iteration for `epoch`; call it before each epoch, as for DistributedSampler."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 1009 + rank())
        return iter(torch.randint(self.size, (self.num_samples,), generator=generator).tolist())


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable `obj`, in rank order, on every rank; [obj] when not distributed."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_ranks_true(flag: bool, device: torch.device) -> bool:
    """True only if `flag` holds on every rank (so all ranks stop together)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def cleanup() -> None:
    """Destroy the process group if one was initialised; safe to call in single-process runs."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
