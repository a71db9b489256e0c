"""Exponential moving average of a module's weights, as mmengine's ExpMomentumEMA (RTMPose).

At step 0 the average is a copy. At step n > 0 every floating-point parameter and buffer moves
towards the source by m_n = (1 - momentum) * exp(-(1 + n) / gamma) + momentum, so early steps
follow the model closely and later ones settle at `momentum` (2e-4 for RTMPose).
Non-float buffers (BatchNorm's counter) are copied.
"""
from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn


class ModelEMA:
    """The averaged copy (`module`, eval mode, no gradients) of a network, advanced by `update`."""

    def __init__(self, module: nn.Module, momentum: float = 2e-4, gamma: float = 2000.0):
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"ema_momentum must be in (0, 1), got {momentum}")
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.momentum = momentum
        self.gamma = gamma
        self.steps = 0

    def step_momentum(self, step: int) -> float:
        """m_n of the module docstring: the weight of the source's value at update `step` (~1 early, -> momentum)."""
        return (1.0 - self.momentum) * math.exp(-(1.0 + step) / self.gamma) + self.momentum

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Move the average towards `source` (the unwrapped training network, same state-dict keys)."""
        src = source.state_dict()
        weight = self.step_momentum(self.steps)
        for name, avg in self.module.state_dict().items():
            value = src[name].to(avg.device)
            if self.steps == 0 or not avg.dtype.is_floating_point:
                avg.copy_(value)
            else:
                avg.lerp_(value.to(avg.dtype), weight)
        self.steps += 1

    def state_dict(self) -> dict[str, Any]:
        """{"module": the averaged weights, "steps": updates so far}, for checkpoints."""
        return {"module": self.module.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` saved, so a resumed run continues the momentum schedule."""
        self.module.load_state_dict(state["module"])
        self.steps = state["steps"]
