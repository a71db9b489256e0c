"""Precise BatchNorm: replace the running statistics by exact averages over a fixed set of batches.

BatchNorm's running statistics are an exponential average of every batch the layer saw in train
mode. When a network also runs on other data in train mode, as the semi-supervised strategies run
it on unlabeled easy and hard views, the statistics used at test time drift towards those views
(measured on LSP: an SSPCM teacher at PCK@0.2 0.143 recovers to 0.282 when they are recomputed on
the labeled images, weights untouched; docs/benchmarks.md). Recomputing them on labeled training
batches at the end of each epoch (`train.precise_bn_batches`) removes that drift from validation,
the saved weights and SSPCM's previous-epoch snapshot. Off by default: the published methods do not.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batchnorm_layers(modules: Iterable[nn.Module]) -> list[_BatchNorm]:
    """Every BatchNorm layer with running statistics in the modules, each once even where shared."""
    seen: dict[int, _BatchNorm] = {}
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, _BatchNorm) and layer.track_running_stats:
                seen.setdefault(id(layer), layer)
    return list(seen.values())


@torch.no_grad()
def recompute_batchnorm(networks: list[nn.Module], batches: Iterable[torch.Tensor]) -> int:
    """Run every network in train mode on each input batch and set each BatchNorm layer's running
    mean and variance to the plain average of the per-batch statistics (momentum None). Weights and
    train/eval modes are left as they were. Returns the number of batches used (0: nothing changed)."""
    layers = batchnorm_layers(networks)
    if not layers:
        return 0
    saved = {layer: (layer.running_mean.clone(), layer.running_var.clone(), layer.num_batches_tracked.clone(),
                     layer.momentum) for layer in layers}
    modes = [network.training for network in networks]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the batches below
    count = 0
    try:
        for network in networks:
            network.train()
        for images in batches:
            for network in networks:
                network(images)
            count += 1
    finally:
        for network, mode in zip(networks, modes):
            network.train(mode)
        for layer, (mean, var, tracked, momentum) in saved.items():
            layer.momentum = momentum
            if count == 0:  # no batch: keep the statistics there were
                layer.running_mean.copy_(mean)
                layer.running_var.copy_(var)
                layer.num_batches_tracked.copy_(tracked)
    return count
