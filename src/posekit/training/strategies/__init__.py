"""Training strategies: each owns the networks it trains and defines the loss the engine optimises.
Builders register by name (`registry.register_strategy`); `strategy:` in a config picks one."""
from posekit.training.strategies.base import Strategy, split_decay_groups
from posekit.training.strategies.registry import build_strategy, register_strategy, strategy_names
from posekit.training.strategies.supervised import SupervisedStrategy

__all__ = ["Strategy", "SupervisedStrategy", "build_strategy", "register_strategy", "split_decay_groups",
           "strategy_names"]
