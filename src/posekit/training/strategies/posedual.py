"""PoseDual (Xie et al., ICCV 2021): two networks teach each other on unlabeled images.

    L = 1/2 sup1 + 1/2 sup2 + MSE(net1(hard'), T(net2(easy))) + MSE(net2(hard'), T(net1(easy)))

T warps the easy view's heatmaps into the hard view's frame (the per-sample affine of the
UnlabeledDataset); easy-view predictions are computed without gradients and serve as targets;
hard' is the hard view with Joint Cutout at the partner's peaks (or RandAugment). MSE is
SimpleBaseline's JointsMSE.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from posekit.config import ConfigError, ExperimentConfig, from_dict
from posekit.estimators.base import Estimator
from posekit.estimators.topdown import TopDownEstimator
from posekit.models.losses.joints_mse import joints_mse
from posekit.training.heatmap_warp import warp_heatmaps
from posekit.training.strategies.semi_common import (
    SemiParams, SemiStrategy, UnlabeledStream, build_heatmap_estimator, build_unlabeled_dataset, check_same_heatmaps,
    hard_input, heatmap_peaks, network_model, unlabeled_loader_size,
)
from posekit.training.strategies.registry import register_strategy


@dataclass
class PoseDualParams(SemiParams):
    """`strategy_params` of PoseDual: the shared semi-supervised ones plus the two networks' zoo names."""

    networks: list[str] = field(default_factory=list)  # two zoo names; default: model.name twice


class PoseDualStrategy(SemiStrategy):
    """Two heatmap estimators with the same output geometry, each the other's teacher (module docstring)."""

    def __init__(self, net1: TopDownEstimator, net2: TopDownEstimator, params: SemiParams, stream: UnlabeledStream):
        super().__init__(params, stream, net1.codec.stride)
        self.net1, self.net2 = net1, net2

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """The module docstring's L on a labeled batch and the next unlabeled batch; the consistency
        terms are weighted by unsup_weight. Logs sup1, sup2, cons1, cons2 (detached)."""
        sup1 = self.net1.loss(batch)["loss"]
        sup2 = self.net2.loss(batch)["loss"]
        device = batch["image"].device
        unlabeled = self.unlabeled_batch(epoch, device)
        affine = unlabeled["affine"]
        with torch.no_grad():
            easy1, easy2 = self.net1(unlabeled["image_easy"]), self.net2(unlabeled["image_easy"])
            target1 = warp_heatmaps(easy1, affine, self.stride)
            target2 = warp_heatmaps(easy2, affine, self.stride)
        # Each network's easy-view prediction is its partner's target: score both (labels held back).
        self.score_pseudo_labels("net1", easy1, unlabeled)
        self.score_pseudo_labels("net2", easy2, unlabeled)
        hard = unlabeled["image_hard"]
        # Each network's occluders sit at its partner's (warped) peaks, as the released code does.
        hard1 = hard_input(self.params, hard, self.to_input_pixels(heatmap_peaks(target2)[0]))
        hard2 = hard_input(self.params, hard, self.to_input_pixels(heatmap_peaks(target1)[0]))
        cons1 = joints_mse(self.net1(hard1), target2)
        cons2 = joints_mse(self.net2(hard2), target1)
        weight = self.params.unsup_weight
        total = 0.5 * sup1 + 0.5 * sup2 + weight * (cons1 + cons2)
        return {"loss": total, "sup1": sup1.detach(), "sup2": sup2.detach(),
                "cons1": cons1.detach(), "cons2": cons2.detach()}

    def evaluation_targets(self) -> dict[str, Estimator]:
        """Both networks; net1 first, so its metrics are the run's headline ones."""
        return {"net1": self.net1, "net2": self.net2}


@register_strategy("posedual")
def build_posedual(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> PoseDualStrategy:
    """`strategy: posedual`. estimator_factory is not used: each network is built from its own zoo
    name (strategy_params.networks, default model.name twice), so the two may differ."""
    params = from_dict(PoseDualParams, cfg.strategy_params, prefix="strategy_params")
    names = list(params.networks) or [cfg.model.name, cfg.model.name]
    if len(names) != 2:
        raise ConfigError(f"config key 'strategy_params.networks': PoseDual trains two networks, got {names}")
    nets = [build_heatmap_estimator(cfg, n) for n in names]
    check_same_heatmaps(nets, names)
    batch, workers = unlabeled_loader_size(cfg, params)
    stream = UnlabeledStream(build_unlabeled_dataset(cfg, params), batch, cfg.train.seed, workers)
    strategy = PoseDualStrategy(nets[0], nets[1], params, stream)
    return strategy.set_networks({slot: network_model(cfg, n) for slot, n in zip(("net1", "net2"), names)})
