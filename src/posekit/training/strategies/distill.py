"""DWPose two-stage distillation for top-down SimCC models (RTMPose).

Stage 1: a frozen teacher guides a student of any width with the same keypoint set:
    L = L_gt + r(t) * (L_fea + L_logit),  r(t) = 1 - epoch / max_epochs (0-based epoch),
L_fea on the last backbone feature (1x1 alignment conv when widths differ), L_logit on the SimCC
x/y logits of every keypoint.
Stage 2: the teacher is the stage-1 model. The student shares (and never updates) the teacher's
backbone; only a head of the same architecture is trained, on the teacher's features, with the logit
loss alone (weight 1, no decay). The ground-truth loss is computed and logged but not optimised, as
in the official code. The student estimator then *is* the merged model (teacher backbone + new head):
`posekit distill-merge` turns the training checkpoint into a plain deployable one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posekit.config import ConfigError, ExperimentConfig, from_dict
from posekit.estimators.base import Estimator
from posekit.estimators.topdown import TopDownEstimator, build_topdown_estimator
from posekit.keypoints import get_keypoint_set
from posekit.models.losses.distill import FeaLoss, KDLoss
from posekit.models.zoo import get_entry
from posekit.training.checkpoint import load_checkpoint
from posekit.training.strategies.base import Strategy
from posekit.training.strategies.registry import register_strategy


@dataclass
class TeacherConfig:
    """`strategy_params.teacher`: the trained teacher's checkpoint and, optionally, its zoo model."""

    model: str = ""                        # zoo name; default: the model named in the checkpoint's config
    checkpoint: str = ""                   # posekit checkpoint of the trained teacher (required)
    params: dict = field(default_factory=dict)  # extra zoo-builder arguments for the teacher


@dataclass
class DistillParams:
    """`strategy_params` of the distill strategy; defaults are DWPose's published settings."""

    stage: int = 1
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    feature_weight: float = 7e-5           # alpha_fea (stage 1 only)
    logit_weight: float | None = None      # default 0.1 in stage 1, 1.0 in stage 2
    beta: float = 10.0                     # the student loss's beta (RTMPose's KLDiscretLoss)
    head_init: str = "fresh"               # stage 2: fresh head (official) or a copy of the teacher's
    # The frozen teacher's BatchNorm while training. "train", as the official DWPose fork: its distiller
    # sets teacher.eval() once, and the training loop's model.train() then puts it back in train mode, so
    # BatchNorm uses each batch's statistics and updates its running ones (in stage 2 those of the shared
    # backbone, which the merged model deploys). "eval": the teacher's stored statistics, never updated.
    teacher_bn: str = "train"

    def check(self) -> None:
        """ConfigError naming the key where stage, head_init or teacher_bn is not an allowed value."""
        if self.stage not in (1, 2):
            raise ConfigError(f"config key 'strategy_params.stage': {self.stage} is not 1 or 2")
        if self.head_init not in ("fresh", "teacher"):
            raise ConfigError(f"config key 'strategy_params.head_init': '{self.head_init}' is not fresh or teacher")
        if self.teacher_bn not in ("train", "eval"):
            raise ConfigError(f"config key 'strategy_params.teacher_bn': '{self.teacher_bn}' is not train or eval")

    @property
    def kd_weight(self) -> float:
        """The logit loss weight: `logit_weight` where set, else 0.1 in stage 1 and 1.0 in stage 2."""
        if self.logit_weight is not None:
            return self.logit_weight
        return 0.1 if self.stage == 1 else 1.0


def backbone_and_head(estimator: Estimator, role: str) -> tuple[nn.Module, nn.Module]:
    """The model's feature extractor and head; distillation needs the feature between them."""
    model = estimator.model
    if not (isinstance(getattr(model, "backbone", None), nn.Module) and isinstance(getattr(model, "head", None), nn.Module)):
        raise ValueError(f"distillation: the {role} model {type(model).__name__} does not expose `backbone` and "
                         "`head` submodules (a top-down SimCC model such as rtmpose-* does)")
    return model.backbone, model.head


def decay_factor(epoch: int, max_epochs: int) -> float:
    """r(t) = 1 - epoch / max_epochs, epoch 0-based (mmengine's message hub)."""
    return 1.0 - epoch / max_epochs


class DistillStrategy(Strategy):
    """Trains `student` against the frozen `teacher` in DWPose stage 1 or 2 (module docstring);
    max_epochs sets the stage-1 decay r(t). Stage 2 replaces the student's backbone by the teacher's."""

    def __init__(self, student: TopDownEstimator, teacher: TopDownEstimator, params: DistillParams,
                 max_epochs: int):
        super().__init__()
        if student.keypoint_set.names != teacher.keypoint_set.names:
            raise ValueError(f"distillation: the teacher predicts keypoint set '{teacher.keypoint_set.name}' "
                             f"({teacher.keypoint_set.num_keypoints} keypoints) but the student "
                             f"'{student.keypoint_set.name}' ({student.keypoint_set.num_keypoints}); they must match")
        t_backbone, _ = backbone_and_head(teacher, "teacher")
        s_backbone, s_head = backbone_and_head(student, "student")
        self.params, self.max_epochs, self.stage = params, max_epochs, params.stage
        teacher.eval().requires_grad_(False)
        self.teacher, self.student = teacher, student
        self.fea_loss: FeaLoss | None = None
        if self.stage == 1:
            self.fea_loss = FeaLoss(_channels(s_backbone, "student"), _channels(t_backbone, "teacher"),
                                    params.feature_weight)
        else:
            if _shapes(s_backbone) != _shapes(t_backbone) or _shapes(s_head) != _shapes(teacher.model.head):
                raise ValueError("distillation stage 2: the student must have the teacher's architecture (its head "
                                 "is trained on the teacher's backbone features and then merged with it)")
            student.model.backbone = t_backbone  # shared and frozen: the student is the merged model
            if params.head_init == "teacher":
                s_head.load_state_dict(teacher.model.head.state_dict())
        self.kd_loss = KDLoss(params.kd_weight, params.beta)
        self.weight = 1.0

    def train(self, mode: bool = True) -> "DistillStrategy":
        """nn.Module.train, but the teacher enters train mode only with teacher_bn "train"; that mode
        changes only its BatchNorm, since it never receives gradients."""
        super().train(mode)
        self.teacher.train(mode and self.params.teacher_bn == "train")  # see DistillParams.teacher_bn
        return self

    def on_epoch_start(self, epoch: int) -> None:
        """Set the distillation weight for the epoch: r(t) in stage 1, 1 in stage 2."""
        self.weight = decay_factor(epoch, self.max_epochs) if self.stage == 1 else 1.0

    def loss(self, batch: dict[str, Any], epoch: int, iteration: int) -> dict[str, torch.Tensor]:
        """Stage 1: {"loss": gt + r(t) (fea + logit), loss_gt, loss_fea, loss_logit}; stage 2: {"loss":
        logit, loss_gt (no gradient, logged only), loss_logit}. The teacher runs without gradients."""
        images = batch["image"]
        t_backbone, t_head = self.teacher.model.backbone, self.teacher.model.head
        with torch.no_grad():
            feat_t = t_backbone(images)
            logits_t = t_head(feat_t)
        if self.stage == 1:
            feat_s = self.student.model.backbone(images)
            logits_s = self.student.model.head(feat_s)
            gt = self.student.loss_fn(logits_s, batch)["loss"]
            fea = self.fea_loss(feat_s, feat_t)
            kd = self.kd_loss(logits_s, logits_t)
            total = gt + self.weight * (fea + kd)
            return {"loss": total, "loss_gt": gt.detach(), "loss_fea": fea.detach(), "loss_logit": kd.detach()}
        logits_s = self.student.model.head(feat_t)
        kd = self.kd_loss(logits_s, logits_t)
        with torch.no_grad():
            gt = self.student.loss_fn(logits_s, batch)["loss"]
        return {"loss": kd, "loss_gt": gt, "loss_logit": kd.detach()}

    def evaluation_targets(self) -> dict[str, Estimator]:
        """{"student": the student} (in stage 2 the merged model); the teacher is not validated."""
        return {"student": self.student}

    def log_stats(self) -> dict[str, float]:
        """{"distill_weight": this epoch's r(t), 1 in stage 2}."""
        return {"distill_weight": self.weight}


def _channels(backbone: nn.Module, role: str) -> int:
    channels = getattr(backbone, "out_channels", None)
    if not isinstance(channels, int):
        raise ValueError(f"distillation: the {role} backbone {type(backbone).__name__} has no `out_channels`")
    return channels


def _shapes(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


# ------------------------------------------------------------------------------------- building
def _codec_params(cfg: ExperimentConfig) -> dict | None:
    if not cfg.codec.params:
        return None
    params = dict(cfg.codec.params)
    if cfg.codec.name:
        params["name"] = cfg.codec.name
    return params


def load_teacher(cfg: ExperimentConfig, teacher: TeacherConfig) -> tuple[TopDownEstimator, tuple[str, dict]]:
    """The trained teacher, built for the student's keypoint set and input size and checked
    against the config stored in its checkpoint, and the zoo model (name, params) it was built from."""
    key = "strategy_params.teacher.checkpoint"
    if not teacher.checkpoint:
        raise ConfigError(f"config key '{key}': name the trained teacher's posekit checkpoint")
    path = Path(teacher.checkpoint)
    state = load_checkpoint(path)
    if "estimator" not in state:
        raise ValueError(f"{path}: not a posekit checkpoint (no 'estimator' weights)")
    meta = state.get("metadata", {}).get("experiment")
    model_name = teacher.model or (meta or {}).get("model", {}).get("name", "")
    if not model_name:
        raise ConfigError("config key 'strategy_params.teacher.model': the teacher checkpoint carries no config; "
                          "name the teacher's zoo model")
    if meta:
        theirs = get_keypoint_set(meta["data"]["keypoint_set"]).name
        ours = get_keypoint_set(cfg.data.keypoint_set).name
        if theirs != ours:
            raise ConfigError(f"{path}: the teacher was trained on keypoint set '{theirs}' but data.keypoint_set is "
                              f"'{ours}'; teacher and student need the same keypoint set")
        if list(meta["data"]["input_size"]) != list(cfg.data.input_size):
            raise ConfigError(f"{path}: the teacher was trained at input size {meta['data']['input_size']} but "
                              f"data.input_size is {list(cfg.data.input_size)}; distillation needs the same size")
    params = teacher.params or ((meta or {}).get("model", {}).get("params") or {})
    estimator = build_topdown_estimator(model_name, cfg.data.keypoint_set, tuple(cfg.data.input_size),
                                        _codec_params(cfg), params)
    try:
        estimator.load_state_dict(state["estimator"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit teacher model '{model_name}' with keypoint set "
                         f"'{cfg.data.keypoint_set}': {str(exc).splitlines()[0]}") from None
    return estimator, (model_name, params)


@register_strategy("distill")
def build_distill(cfg: ExperimentConfig, estimator_factory: Any) -> DistillStrategy:
    """`strategy: distill` in an experiment config; the student is `model`, the teacher is named
    under `strategy_params.teacher`."""
    params = from_dict(DistillParams, dict(cfg.strategy_params), prefix="strategy_params")
    if (cfg.paradigm or get_entry(cfg.model.name).paradigm) != "topdown":  # None: the zoo model's
        raise ConfigError("config key 'paradigm': distillation is for top-down models")
    if params.stage == 2:
        if params.teacher.model and params.teacher.model != cfg.model.name:
            raise ConfigError(f"config key 'strategy_params.teacher.model': stage 2 distils a model into itself, "
                              f"but the teacher is '{params.teacher.model}' and model.name '{cfg.model.name}'")
        if cfg.model.pretrained:
            raise ConfigError("config key 'model.pretrained': stage 2 takes its backbone from the teacher; "
                              "leave model.pretrained empty")
    teacher, teacher_model = load_teacher(cfg, params.teacher)
    strategy = DistillStrategy(estimator_factory(), teacher, params, cfg.train.epochs)
    return strategy.set_networks({"student": (cfg.model.name, cfg.model.params), "teacher": teacher_model})
