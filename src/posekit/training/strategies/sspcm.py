"""SSPCM (Huang et al., CVPR 2023): two teachers trained PoseDual-style and a student that learns
from pseudo-labels corrected by position inconsistency across networks and training periods.

Per image and keypoint, the argmax locations of T1, T2 (this step) and T1', T2' (a frozen copy of
the networks at the end of the previous epoch) give four pairwise distances d(T1,T2), d(T1',T2),
d(T1,T2'), d(T1',T2'); the closest pair's mean heatmap is the student's pseudo-label and its
distance the inconsistency score. At the first epoch there is no copy yet: the pseudo-label is
1/2 (T1 + T2). A keypoint is masked in all three consistency terms unless the mean of T1's and
T2's peak values exceeds `score_threshold` (0.1). Loss, as released:

    L = 1/2 (sup_T1 + sup_T2 + sup_S) + MSE(T1(hard'), T(T2 easy)) + MSE(T2(hard'), T(T1 easy))
        + MSE(S(hard'), T(pseudo-label))

with Cut-Occlude on each hard view at the partner's peaks (T2's for T1, T1's for T2, the
pseudo-label's for S). There is no EMA: one optimizer trains all three networks.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

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

PAIRS = ("T1-T2", "T1last-T2", "T1-T2last", "T1last-T2last")


@dataclass
class SSPCMParams(SemiParams):
    """`strategy_params` of SSPCM: the shared ones (Cut-Occlude on 2 joints by default), the networks'
    zoo names, and the pseudo-label mask and its optional filters (off: as released)."""

    occlusion: str = "cut_occlude"
    occlusion_joints: int = 2
    teachers: list[str] = field(default_factory=list)  # two zoo names; default: model.name twice
    student: str = ""                                  # default: model.name
    score_threshold: float = 0.1            # mask unless mean(peak T1, peak T2) > this
    correction_warmup_epochs: int = 0       # correction from the previous epoch's copy once epoch > this
    distance_filter: bool = False           # mask when distance / heatmap diagonal >= distance_filter_ratio
    distance_filter_ratio: float = 0.6
    score_diff_weighting: bool = False      # weight *= 1 - |peak T1 - peak T2|
    distance_weighting: bool = False        # weight *= (diagonal - distance) / diagonal


def select_consistent_pair(t1: torch.Tensor, t2: torch.Tensor, t1_last: torch.Tensor,
                           t2_last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Heatmaps (B, K, h, w) of T1, T2, T1', T2' -> pseudo-label heatmaps (B, K, h, w), inconsistency
    score (B, K; argmax distance of the chosen pair in heatmap pixels) and the chosen pair's index
    (B, K) into PAIRS. Ties go to the earlier pair (the current networks)."""
    maps = (t1, t2, t1_last, t2_last)
    peaks = [heatmap_peaks(m)[0] for m in maps]
    pairs = ((0, 1), (2, 1), (0, 3), (2, 3))
    distances = torch.stack([(peaks[a] - peaks[b]).norm(dim=-1) for a, b in pairs], dim=-1)  # (B, K, 4)
    score, choice = distances.min(dim=-1)
    means = torch.stack([0.5 * (maps[a] + maps[b]) for a, b in pairs], dim=2)  # (B, K, 4, h, w)
    index = choice[:, :, None, None, None].expand(-1, -1, 1, *t1.shape[-2:])
    return means.gather(2, index)[:, :, 0], score, choice


def keypoint_weights(params: SSPCMParams, peak1: torch.Tensor, peak2: torch.Tensor, score: torch.Tensor,
                     diagonal: float) -> torch.Tensor:
    """(B, K) weights of the consistency terms: the score mask, then the optional filters."""
    weight = ((peak1 + peak2) * 0.5 > params.score_threshold).to(peak1.dtype)
    if params.distance_filter:
        weight = weight * (score / diagonal < params.distance_filter_ratio).to(weight.dtype)
    if params.score_diff_weighting:
        weight = weight * (1.0 - (peak1 - peak2).abs()).clamp_min(0)
    if params.distance_weighting:
        weight = weight * ((diagonal - score) / diagonal).clamp_min(0)
    return weight


def _frozen_copy(model: nn.Module) -> nn.Module:
    """A gradient-free copy. It follows the strategy's train/eval mode like the current teachers: the
    official last_epoch_model runs in train mode, so BatchNorm normalises with the statistics of the
    batch it sees (the same easy view as the teachers), which the pair selection depends on."""
    frozen = copy.deepcopy(model)
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


class SSPCMStrategy(SemiStrategy):
    """Two teachers and a student with the same heatmap size, plus the teachers' previous-epoch
    copies (teacher1_last, teacher2_last; `snapshot_epoch` -1 until the first epoch ends)."""

    def __init__(self, teacher1: TopDownEstimator, teacher2: TopDownEstimator, student: TopDownEstimator,
                 params: SSPCMParams, stream: UnlabeledStream):
        super().__init__(params, stream, student.codec.stride)
        self.student, self.teacher1, self.teacher2 = student, teacher1, teacher2
        # The previous epoch's teachers: part of the state_dict, so a resumed run restores them.
        self.teacher1_last = _frozen_copy(teacher1.model)
        self.teacher2_last = _frozen_copy(teacher2.model)
        self.register_buffer("snapshot_epoch", torch.tensor(-1, dtype=torch.long))
        width, height = student.codec.heatmap_size
        self.diagonal = math.hypot(width, height)
        self._stats = self._empty_stats(-1)

    @staticmethod
    def _empty_stats(epoch: int) -> dict[str, float]:
        return {"epoch": epoch, "score_sum": 0.0, "kept": 0.0, "masked": 0.0, "total": 0.0}


    # -------------------------------------------------------------------------------- loss
    def pseudo_labels(self, easy: torch.Tensor, epoch: int) -> dict[str, torch.Tensor]:
        """Easy-view heatmaps of T1 and T2, the corrected pseudo-label, its score and the weights."""
        with torch.no_grad():
            t1, t2 = self.teacher1(easy), self.teacher2(easy)
            if epoch > self.params.correction_warmup_epochs and int(self.snapshot_epoch) >= 0:
                pseudo, score, choice = select_consistent_pair(t1, t2, self.teacher1_last(easy), self.teacher2_last(easy))
            else:  # no previous epoch yet (or still warming up): the current pair
                pseudo = 0.5 * (t1 + t2)
                score = (heatmap_peaks(t1)[0] - heatmap_peaks(t2)[0]).norm(dim=-1)
                choice = torch.zeros_like(score, dtype=torch.long)
            peak1, peak2 = heatmap_peaks(t1)[1], heatmap_peaks(t2)[1]
            weight = keypoint_weights(self.params, peak1, peak2, score, self.diagonal)
        return {"t1": t1, "t2": t2, "pseudo": pseudo, "score": score, "choice": choice, "weight": weight}

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """The module docstring's L (consistency terms times unsup_weight, per-keypoint weights from
        `pseudo_labels`); logs sup_t1, sup_t2, sup_s, cons_t1, cons_t2, cons_s (detached)."""
        sup = [net.loss(batch)["loss"] for net in (self.teacher1, self.teacher2, self.student)]
        unlabeled = self.unlabeled_batch(epoch, batch["image"].device)
        labels = self.pseudo_labels(unlabeled["image_easy"], epoch)
        affine, hard, weight = unlabeled["affine"], unlabeled["image_hard"], labels["weight"]
        with torch.no_grad():
            target1 = warp_heatmaps(labels["t1"], affine, self.stride)
            target2 = warp_heatmaps(labels["t2"], affine, self.stride)
            target_s = warp_heatmaps(labels["pseudo"], affine, self.stride)
        peaks = {k: self.to_input_pixels(heatmap_peaks(t)[0]) for k, t in (("1", target1), ("2", target2), ("s", target_s))}
        cons1 = joints_mse(self.teacher1(hard_input(self.params, hard, peaks["2"])), target2, weight)
        cons2 = joints_mse(self.teacher2(hard_input(self.params, hard, peaks["1"])), target1, weight)
        cons_s = joints_mse(self.student(hard_input(self.params, hard, peaks["s"])), target_s, weight)
        total = 0.5 * sum(sup) + self.params.unsup_weight * (cons1 + cons2 + cons_s)
        self._record(epoch, labels["score"], weight)
        for name in ("t1", "t2", "pseudo"):  # labels held back, scoring only
            self.score_pseudo_labels(name, labels[name], unlabeled, kept=weight > 0 if name == "pseudo" else None)
        return {"loss": total, "sup_t1": sup[0].detach(), "sup_t2": sup[1].detach(), "sup_s": sup[2].detach(),
                "cons_t1": cons1.detach(), "cons_t2": cons2.detach(), "cons_s": cons_s.detach()}

    # ------------------------------------------------------------------------------- epochs
    def refresh_snapshot(self, epoch: int) -> None:
        """Copy the teachers' current weights and buffers into T1', T2' and record `epoch` as theirs."""
        self.teacher1_last.load_state_dict(self.teacher1.model.state_dict())
        self.teacher2_last.load_state_dict(self.teacher2.model.state_dict())
        self.snapshot_epoch.fill_(epoch)

    def on_epoch_end(self, epoch: int) -> None:
        """Stop the unlabeled stream and snapshot this epoch's teachers for the next epoch's correction."""
        super().on_epoch_end(epoch)
        self.refresh_snapshot(epoch)

    def _record(self, epoch: int, score: torch.Tensor, weight: torch.Tensor) -> None:
        if self._stats["epoch"] != epoch:
            self._stats = self._empty_stats(epoch)
        kept = weight > 0
        self._stats["score_sum"] += float(score[kept].sum())
        self._stats["kept"] += float(kept.sum())
        self._stats["masked"] += float((~kept).sum())
        self._stats["total"] += float(weight.numel())

    def log_stats(self) -> dict[str, float]:
        """Mean inconsistency score of kept keypoints (heatmap px), the masked share, and pseudo_pck/*."""
        s = self._stats
        if s["total"] == 0:
            return super().log_stats()
        return {"inconsistency": s["score_sum"] / max(s["kept"], 1.0), "masked_share": s["masked"] / s["total"],
                **super().log_stats()}

    def extra_state(self) -> dict[str, Any]:
        """SemiStrategy's state plus the epoch's pseudo-label statistics so far."""
        return {**super().extra_state(), "pseudo_label_stats": dict(self._stats)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` saved (the snapshot networks come back with the state_dict)."""
        super().load_extra_state(state)
        self._stats = dict(state["pseudo_label_stats"])

    def evaluation_targets(self) -> dict[str, Estimator]:
        """The student first (the deliverable), then both teachers; the snapshots are not validated."""
        return {"student": self.student, "teacher1": self.teacher1, "teacher2": self.teacher2}


@register_strategy("sspcm")
def build_sspcm(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> SSPCMStrategy:
    """`strategy: sspcm`. estimator_factory is not used: each network is built from its own zoo name
    (strategy_params.teachers and .student, default model.name)."""
    params = from_dict(SSPCMParams, cfg.strategy_params, prefix="strategy_params")
    teachers = list(params.teachers) or [cfg.model.name, cfg.model.name]
    if len(teachers) != 2:
        raise ConfigError(f"config key 'strategy_params.teachers': SSPCM has two teachers, got {teachers}")
    names = [*teachers, params.student or cfg.model.name]
    nets = [build_heatmap_estimator(cfg, n) for n in names]
    check_same_heatmaps(nets, names)
    batch, workers = unlabeled_loader_size(cfg, params)
    stream = UnlabeledStream(build_unlabeled_dataset(cfg, params), batch, cfg.train.seed, workers)
    strategy = SSPCMStrategy(nets[0], nets[1], nets[2], params, stream)
    slots = ("teacher1", "teacher2", "student")
    return strategy.set_networks({slot: network_model(cfg, n) for slot, n in zip(slots, names)})
