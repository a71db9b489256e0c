"""The Strategy contract: what the one training loop needs from any way of training.

A strategy is an nn.Module that owns every network it trains (and any frozen ones it uses), so
its state_dict is the checkpoint of all of them and DDP can wrap it: the engine calls
`strategy(batch, epoch, iteration)`, which is `loss(...)`.

- `parameter_groups(weight_decay, no_decay_norm_bias)`: what one optimizer updates.
- `loss(batch, epoch, iteration)`: dict of scalar tensors; 'loss' is optimised, the others logged.
- `on_epoch_start(epoch)`: called at the start of every epoch, and again when a run resumes
  inside an epoch, so it must only set up state that depends on `epoch`.
- `on_epoch_end(epoch)`: after the epoch's last step, before validation and the checkpoint
  (e.g. refresh a frozen copy of this epoch's networks).
- `extra_state()` / `load_extra_state(state)`: anything not in the module state_dict, as tensors
  and plain Python values (checkpoints load with torch.load(weights_only=True)).
- `evaluation_targets()`: {name: Estimator} to validate; the first is the deliverable.
- `log_stats()`: per-epoch statistics written to metrics.jsonl.
- `find_unused_parameters`: passed to DDP for strategies whose forward skips trainable params.

Frozen networks (a teacher) should stay in eval mode: override `train(mode)` to keep them so.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from posekit.estimators.base import Estimator

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def split_decay_groups(module: nn.Module, weight_decay: float, no_decay_norm_bias: bool) -> list[dict]:
    """Trainable parameters in a decay group and, when `no_decay_norm_bias`, a zero-decay group
    holding the parameters of normalisation layers and every `bias` (mmengine's
    norm_decay_mult=0, bias_decay_mult=0). Shared parameters are listed once."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for _, sub in module.named_modules():
        for name, param in sub.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            exempt = no_decay_norm_bias and (isinstance(sub, _NORM_TYPES) or name == "bias")
            (no_decay if exempt else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


class Strategy(nn.Module):
    find_unused_parameters: bool = False

    def forward(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        return self.loss(batch, epoch, iteration)

    def parameter_groups(self, weight_decay: float, no_decay_norm_bias: bool) -> list[dict]:
        return split_decay_groups(self, weight_decay, no_decay_norm_bias)

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def on_epoch_start(self, epoch: int) -> None:
        pass

    def on_epoch_end(self, epoch: int) -> None:
        pass

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def evaluation_targets(self) -> dict[str, Estimator]:
        raise NotImplementedError

    def log_stats(self) -> dict[str, float]:
        return {}
