"""Plain supervised training of one estimator on its own loss."""
from __future__ import annotations

from typing import Any, Callable

import torch

from posekit.config import ConfigError, ExperimentConfig
from posekit.estimators.base import Estimator
from posekit.training.strategies.base import Strategy
from posekit.training.strategies.registry import register_strategy


class SupervisedStrategy(Strategy):
    """One estimator, trained and evaluated as the slot `estimator`."""

    def __init__(self, estimator: Estimator):
        super().__init__()
        self.estimator = estimator

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """The estimator's own loss dict on the labeled batch; epoch and iteration are unused."""
        return self.estimator.loss(batch)

    def evaluation_targets(self) -> dict[str, Estimator]:
        """{"estimator": the one estimator}."""
        return {"estimator": self.estimator}


@register_strategy("supervised")
def build_supervised(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> SupervisedStrategy:
    """Strategy builder for `strategy: supervised`; ConfigError if any strategy_params are given."""
    if cfg.strategy_params:
        raise ConfigError(f"config key 'strategy_params': the supervised strategy takes none, got {sorted(cfg.strategy_params)}")
    strategy = SupervisedStrategy(estimator_factory())
    return strategy.set_networks({"estimator": (cfg.model.name, cfg.model.params)})
