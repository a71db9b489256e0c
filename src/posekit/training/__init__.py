"""Training: the one loop (`engine.Trainer`) and the strategies it runs."""
from posekit.training.engine import NonFiniteLossError, Trainer, build_optimizer, seed_everything
from posekit.training.strategies import Strategy, SupervisedStrategy

__all__ = ["NonFiniteLossError", "Strategy", "SupervisedStrategy", "Trainer", "build_optimizer",
           "seed_everything"]
