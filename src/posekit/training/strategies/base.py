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
- `networks()`: {slot: (zoo model name, model params)} for every network it trains or holds, as its
  builder set them with `set_networks`; checkpoints record them, so one network of a run loads
  without knowing the strategy (experiment.load_experiment(network=slot)).
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
    """Base class of every way of training; subclasses implement `loss` and `evaluation_targets`, and
    override the hooks they need (the module docstring gives the contract)."""

    find_unused_parameters: bool = False

    def forward(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """`loss(...)`, called through forward so that DDP sees the pass and syncs its gradients."""
        return self.loss(batch, epoch, iteration)

    def parameter_groups(self, weight_decay: float, no_decay_norm_bias: bool) -> list[dict]:
        """Optimizer groups of every trainable parameter of the strategy (`split_decay_groups`)."""
        return split_decay_groups(self, weight_decay, no_decay_norm_bias)

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """One collated batch (on the device) -> {"loss": scalar to optimise, other scalars to log}."""
        raise NotImplementedError

    def on_epoch_start(self, epoch: int) -> None:
        """Hook before the epoch's first step, and again on resuming inside it; the default does nothing."""
        pass

    def on_epoch_end(self, epoch: int) -> None:
        """Hook after the epoch's last step, before validation and the checkpoint; the default does nothing."""
        pass

    def extra_state(self) -> dict[str, Any]:
        """State outside the module state_dict (tensors and plain values) to checkpoint; none by default."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` returned; the default does nothing."""
        pass

    def evaluation_targets(self) -> dict[str, Estimator]:
        """{name: Estimator} to validate, the deliverable first; its metrics are logged unprefixed."""
        raise NotImplementedError

    def networks(self) -> dict[str, tuple[str, dict]]:
        """{slot: (zoo model name, params)} as recorded by `set_networks`; empty for a hand-built strategy."""
        return dict(getattr(self, "_network_models", {}))  # none when built by hand, not by a builder

    def set_networks(self, networks: dict[str, tuple[str, dict]]) -> Strategy:
        """Record the zoo model (name, params) each network slot was built from. A slot is the attribute
        holding the network, so its weights are the `slot.*` entries of the state_dict."""
        missing = [slot for slot in networks if not isinstance(getattr(self, slot, None), nn.Module)]
        if missing:
            raise ValueError(f"{type(self).__name__}: no network attribute {', '.join(missing)}")
        self._network_models = {slot: (str(name), dict(params)) for slot, (name, params) in networks.items()}
        return self

    def log_stats(self) -> dict[str, float]:
        """Per-epoch statistics for metrics.jsonl (e.g. pseudo-label acceptance); none by default."""
        return {}
