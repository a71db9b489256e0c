"""Plain supervised training of one estimator on its own loss, with an optional batch occlusion.

The occlusion (`strategy_params.occlusion`) is Cut-Occlude (SSPCM, Huang et al. 2023) or Joint Cutout
(PoseDual) placed at each crop's own labelled keypoints instead of a partner network's peaks: with
probability `occlusion_prob` a crop gets boxes pasted (or zeroed) over `occlusion_joints` of its joints,
so the network learns to place a joint it cannot see from the body around it. It acts on the batch after
collation, drawing from the global torch RNG that the training engine saves, so a killed run resumes
exactly. It needs the batch's `keypoints` in input pixels, which top-down datasets give."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from posekit.config import ConfigError, ExperimentConfig, from_dict
from posekit.data.cut_occlude import OCCLUDERS
from posekit.estimators.base import Estimator
from posekit.estimators.topdown import TopDownEstimator
from posekit.training.strategies.base import Strategy
from posekit.training.strategies.registry import register_strategy

OCCLUSIONS = ("none", *OCCLUDERS)


@dataclass
class SupervisedParams:
    """`strategy_params` of the supervised strategy: all optional; the default is no occlusion."""

    occlusion: str = "none"                      # none | cut_occlude | joint_cutout
    occlusion_prob: float = 0.5                  # probability that a crop is occluded
    occlusion_joints: int = 2                    # joints occluded per occluded crop
    patch_half_size: tuple[int, int] = (10, 20)  # U[low, high) input px (SSPCM's, for 256x192 inputs)
    jitter_sd: float = 10.0                      # input px: where the patch is cut from (Cut-Occlude) or placed (Cutout)

    def check(self) -> None:
        """ConfigError naming the key for an unknown occlusion or an out-of-range number."""
        if self.occlusion not in OCCLUSIONS:
            raise ConfigError(f"config key 'strategy_params.occlusion': '{self.occlusion}' is not one of "
                              f"{', '.join(OCCLUSIONS)}")
        if not 0 <= self.occlusion_prob <= 1:
            raise ConfigError(f"config key 'strategy_params.occlusion_prob': {self.occlusion_prob} is not in [0, 1]")
        if self.occlusion_joints < 1:
            raise ConfigError(f"config key 'strategy_params.occlusion_joints': {self.occlusion_joints} is not >= 1")
        low, high = self.patch_half_size
        if not 0 < low < high:
            raise ConfigError("config key 'strategy_params.patch_half_size': want [low, high) with 0 < low < high")
        if self.jitter_sd < 0:
            raise ConfigError(f"config key 'strategy_params.jitter_sd': {self.jitter_sd} is negative")


def occlude(images: torch.Tensor, keypoints: torch.Tensor, params: SupervisedParams) -> torch.Tensor:
    """`images` (B, C, H, W) with the configured occlusion on a random `occlusion_prob` share of the crops,
    at their `keypoints` (B, K, 2) in input pixels; the others are returned unchanged."""
    if params.occlusion == "none" or params.occlusion_prob <= 0:
        return images
    chosen = (torch.rand(images.shape[0]) < params.occlusion_prob).to(images.device)
    if not bool(chosen.any()):
        return images
    out = images.clone()
    # Cut-Occlude's patches come from the whole batch (any other crop), so it sees every image.
    occluded = OCCLUDERS[params.occlusion](images, keypoints, params.occlusion_joints, params.patch_half_size,
                                           params.jitter_sd)
    out[chosen] = occluded[chosen]
    return out


class SupervisedStrategy(Strategy):
    """One estimator, trained and evaluated as the slot `estimator`."""

    def __init__(self, estimator: Estimator, params: SupervisedParams | None = None):
        super().__init__()
        self.estimator = estimator
        self.params = params or SupervisedParams()

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """The estimator's own loss dict on the labeled batch (occluded if configured); epoch and
        iteration are unused."""
        if self.params.occlusion != "none":
            batch = dict(batch, image=occlude(batch["image"], batch["keypoints"], self.params))
        return self.estimator.loss(batch)

    def evaluation_targets(self) -> dict[str, Estimator]:
        """{"estimator": the one estimator}."""
        return {"estimator": self.estimator}


@register_strategy("supervised")
def build_supervised(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> SupervisedStrategy:
    """Strategy builder for `strategy: supervised`; ConfigError for an unknown or invalid strategy_params
    key, or an occlusion asked of a model whose batches carry no input-pixel keypoints (bottom-up)."""
    params = from_dict(SupervisedParams, dict(cfg.strategy_params), prefix="strategy_params")
    params.check()
    strategy = SupervisedStrategy(estimator_factory(), params)
    if params.occlusion != "none" and not isinstance(strategy.estimator, TopDownEstimator):
        raise ConfigError("config key 'strategy_params.occlusion': needs a top-down model (its batches carry "
                          f"each crop's keypoints in input pixels); '{cfg.model.name}' is not one")
    return strategy.set_networks({"estimator": (cfg.model.name, cfg.model.params)})
