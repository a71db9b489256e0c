"""Strategies by name: `strategy:` in an experiment config picks a builder registered here.

A builder is `builder(cfg, estimator_factory) -> Strategy`, registered where it is defined with
`@register_strategy(name)`; every module of the package is imported on first lookup (posekit.registry,
as for the model zoo), so adding a strategy is adding one module.
"""
from __future__ import annotations

from typing import Any, Callable

from posekit.config import ConfigError, ExperimentConfig
from posekit.registry import Registry
from posekit.training.strategies.base import Strategy

StrategyBuilder = Callable[[ExperimentConfig, Callable[[], Any]], Strategy]

_STRATEGIES: Registry[StrategyBuilder] = Registry("strategy", "posekit.training.strategies")


def register_strategy(name: str) -> Callable[[StrategyBuilder], StrategyBuilder]:
    """Decorator registering a builder under `name` (a later registration replaces it); returns it unchanged."""
    return _STRATEGIES.decorator(name)


def strategy_names() -> list[str]:
    """Every registered strategy name, sorted; imports the strategy modules first (each registers its builder)."""
    return _STRATEGIES.names()


def get_strategy_builder(name: str) -> StrategyBuilder:
    """The builder registered as `name`; ConfigError listing the registered ones where there is none."""
    try:
        return _STRATEGIES[name]
    except KeyError as error:
        raise ConfigError(f"config key 'strategy': {error.args[0]}") from None


def build_strategy(cfg: ExperimentConfig, estimator_factory: Callable[[], Any]) -> Strategy:
    """The strategy `cfg.strategy` names. Every network it evaluates must carry its zoo model, since
    checkpoints record them so that any one network loads without knowing the strategy."""
    builder = get_strategy_builder(cfg.strategy)
    strategy = builder(cfg, estimator_factory)
    unnamed = sorted(set(strategy.evaluation_targets()) - set(strategy.networks()))
    if unnamed:
        raise TypeError(f"strategy '{cfg.strategy}' ({builder.__module__}.{builder.__name__}) does not name the zoo "
                        f"model of network(s) {', '.join(unnamed)}: its builder must call set_networks()")
    return strategy
