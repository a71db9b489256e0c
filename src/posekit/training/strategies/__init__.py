"""Training strategies: each owns the networks it trains and defines the loss the engine optimises."""
from posekit.training.strategies.base import Strategy, split_decay_groups
from posekit.training.strategies.supervised import SupervisedStrategy

__all__ = ["Strategy", "SupervisedStrategy", "split_decay_groups"]
