"""Plain supervised training of one estimator on its own loss."""
from __future__ import annotations

from typing import Any

import torch

from posekit.estimators.base import Estimator
from posekit.training.strategies.base import Strategy


class SupervisedStrategy(Strategy):
    def __init__(self, estimator: Estimator):
        super().__init__()
        self.estimator = estimator

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        return self.estimator.loss(batch)

    def evaluation_targets(self) -> dict[str, Estimator]:
        return {"estimator": self.estimator}
