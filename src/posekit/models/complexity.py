"""Parameters and multiply-accumulates (MACs) of a model, counted with torch's FLOP counter.

torch.utils.flop_counter counts 2 FLOPs per multiply-accumulate of convolutions and matrix
products (conv, mm, addmm, bmm, ...) and nothing for element-wise ops, norms, activations or
pooling; MACs = FLOPs / 2. That is what the papers' "GFLOPs" tables mean (mmengine's counter
counts MACs of the same layers).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Complexity:
    """Parameter count, total MACs of one forward pass at batch 1, and those MACs per aten operator."""

    params: int
    macs: int
    macs_by_op: dict[str, int]

    @property
    def params_m(self) -> float:
        """Parameters in millions."""
        return self.params / 1e6

    @property
    def gmacs(self) -> float:
        """MACs in billions (the papers' "GFLOPs")."""
        return self.macs / 1e9


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements, trainable or frozen (buffers such as BN statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: tuple[int, int], batch: int = 1) -> dict[str, int]:
    """MACs of one forward pass per operator, for a (batch, 3, h, w) input; input_size is (w, h).

    A model built on the "meta" device (`with torch.device("meta"): ...`) is counted without
    computing anything, which makes counting a large model instant.
    """
    w, h = input_size
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(torch.zeros(batch, 3, h, w, device=device))
    finally:
        model.train(was_training)
    return {str(op).removeprefix("aten."): int(flops) // 2
            for op, flops in counter.get_flop_counts()["Global"].items()}


def model_complexity(model: nn.Module, input_size: tuple[int, int]) -> Complexity:
    """Parameters and MACs of one (1, 3, h, w) forward pass; input_size is (w, h) in pixels."""
    by_op = count_macs(model, input_size)
    return Complexity(count_parameters(model), sum(by_op.values()), by_op)
