"""DWPose distillation: loss values by hand, a frozen teacher, stage 2 training only the head, the
decaying weight, and the merged checkpoint loading with the same outputs."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from posekit.config import ConfigError, ExperimentConfig, TrainConfig, from_dict, to_dict
from posekit.estimators.topdown import build_topdown_estimator
from posekit.models.losses.distill import FeaLoss, KDLoss
from posekit.training.checkpoint import save_checkpoint
from posekit.training.engine import Trainer
from posekit.training.strategies.distill import DistillParams, DistillStrategy, build_distill, decay_factor

SIZE = (64, 64)  # (w, h): the smallest RTMPose input, a 2x2 stride-32 feature


# ------------------------------------------------------------------------------------- losses
def test_fea_loss_by_hand():
    student = torch.tensor([[[[1.0, 2.0]]], [[[0.0, -1.0]]]])  # (2, 1, 1, 2)
    teacher = torch.tensor([[[[0.0, 0.0]]], [[[1.0, 1.0]]]])
    # squared errors 1 + 4 + 1 + 4 = 10, / batch 2, x alpha
    assert FeaLoss(1, 1, alpha=1.0)(student, teacher).item() == pytest.approx(5.0)
    assert FeaLoss(1, 1)(student, teacher).item() == pytest.approx(5.0 * 7e-5)


def test_fea_loss_aligns_widths_with_a_1x1_conv():
    loss = FeaLoss(1, 2, alpha=1.0)
    with torch.no_grad():
        loss.align.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))
        loss.align.bias.zero_()
    student = torch.tensor([[[[1.0]]]])  # aligned -> channels (2, -1)
    teacher = torch.tensor([[[[0.0]], [[1.0]]]])
    assert loss(student, teacher).item() == pytest.approx(4.0 + 4.0)


def test_kd_loss_one_keypoint_by_hand():
    # beta 10 on logits (ln3/10, 0) gives the teacher (3/4, 1/4); the student's zeros give (1/2, 1/2).
    teacher = torch.tensor([[[math.log(3.0) / 10, 0.0]]])
    student = torch.zeros(1, 1, 2)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    value = KDLoss(weight=0.1, beta=10.0)((student, student), (teacher, teacher)).item()
    assert value == pytest.approx(0.1 * 2 * kl, rel=1e-5)


def test_kd_loss_reduction_matches_an_independent_loop():
    rng = np.random.default_rng(0)
    B, K, WX, WY, beta = 3, 4, 6, 5, 10.0
    sx, tx = rng.normal(size=(2, B, K, WX)) * 0.3
    sy, ty = rng.normal(size=(2, B, K, WY)) * 0.3

    def kl_bins(s: np.ndarray, t: np.ndarray) -> float:  # sum over bins of KL(p_t || p_s)
        p_s = np.exp(beta * s) / np.exp(beta * s).sum()
        p_t = np.exp(beta * t) / np.exp(beta * t).sum()
        return float((p_t * np.log(p_t / p_s)).sum())

    per_sample = [sum(kl_bins(sx[b, k], tx[b, k]) + kl_bins(sy[b, k], ty[b, k]) for k in range(K)) for b in range(B)]
    expected = np.mean(per_sample) / K
    as_t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    got = KDLoss(weight=1.0)((as_t(sx), as_t(sy)), (as_t(tx), as_t(ty))).item()
    assert got == pytest.approx(expected, rel=1e-9)
    assert KDLoss()((as_t(tx), as_t(ty)), (as_t(tx), as_t(ty))).item() == pytest.approx(0.0, abs=1e-12)


def test_kd_loss_rejects_mismatched_logits():
    with pytest.raises(ValueError, match="keypoint set"):
        KDLoss()((torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)))


# ---------------------------------------------------------------------------------- strategies
def estimator(name: str, kset: str = "lsp14"):
    return build_topdown_estimator(name, kset, SIZE)


def make_batches(est, n: int = 2, batch: int = 2) -> list[dict]:
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(n * batch):
        kpts = rng.uniform(4, SIZE[0] - 4, size=(est.keypoint_set.num_keypoints, 2)).astype(np.float32)
        labels = est.codec.encode(kpts, np.ones(len(kpts), dtype=np.float32))
        samples.append({"image": torch.randn(3, SIZE[1], SIZE[0]), **{k: torch.from_numpy(v) for k, v in labels.items()}})
    return samples


def fit(strategy, tmp_path: Path, samples: list[dict], epochs: int = 1) -> Trainer:
    cfg = TrainConfig(epochs=epochs, optimizer="adamw", lr=1e-2, schedule="constant", val_interval=0, amp=False)
    loader = DataLoader(samples, batch_size=2, shuffle=False)
    trainer = Trainer(cfg, strategy, loader, tmp_path, device="cpu")
    trainer.fit()
    return trainer


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("teacher_bn", ["train", "eval"])
def test_stage1_teacher_gets_no_gradient_and_stays_unchanged(tmp_path, teacher_bn):
    torch.manual_seed(0)
    teacher, student = estimator("rtmpose-s"), estimator("rtmpose-t")  # 512 -> 384 channels: aligned
    strategy = DistillStrategy(student, teacher, DistillParams(stage=1, teacher_bn=teacher_bn), max_epochs=2)
    assert strategy.fea_loss.align is not None
    before_teacher, before_student = snapshot(teacher), snapshot(student)
    strategy.train()
    # Official fork: the runner's model.train() puts the frozen teacher's BatchNorm in train mode too.
    assert teacher.training == (teacher_bn == "train")
    trainer = fit(strategy, tmp_path, make_batches(student))
    optimised = {id(p) for p in trainer.params}
    assert not optimised & {id(p) for p in teacher.parameters()}
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    weights = {k for k, _ in teacher.named_parameters()}
    assert all(torch.equal(v, before_teacher[k]) for k, v in teacher.state_dict().items() if k in weights)
    stats_moved = any(not torch.equal(v, before_teacher[k]) for k, v in teacher.state_dict().items()
                      if k.endswith("running_mean"))
    assert stats_moved == (teacher_bn == "train")  # batch statistics feed the running ones only in train mode
    strategy.eval()
    assert not teacher.training
    changed = [k for k, v in student.state_dict().items() if not torch.equal(v, before_student[k])]
    assert any(k.startswith("model.backbone.") for k in changed) and any(k.startswith("model.head.") for k in changed)
    assert {id(p) for p in strategy.fea_loss.parameters()} <= optimised  # the alignment conv learns


def test_stage1_loss_is_gt_plus_decayed_distillation():
    torch.manual_seed(0)
    teacher, student = estimator("rtmpose-t"), estimator("rtmpose-t")
    strategy = DistillStrategy(student, teacher, DistillParams(stage=1), max_epochs=4)
    assert strategy.fea_loss.align is None  # same width: no alignment conv
    batch = {k: torch.stack([s[k] for s in make_batches(student, 1)]) for k in make_batches(student, 1)[0]}
    strategy.train()
    strategy.on_epoch_start(3)
    out = strategy.loss(batch, 3, 0)
    assert strategy.weight == pytest.approx(0.25)
    expected = out["loss_gt"] + 0.25 * (out["loss_fea"] + out["loss_logit"])
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["loss_fea"].item() > 0 and out["loss_logit"].item() > 0


def test_decay_factor():
    assert [decay_factor(e, 4) for e in range(4)] == [1.0, 0.75, 0.5, 0.25]
    strategy = DistillStrategy(estimator("rtmpose-t"), estimator("rtmpose-t"), DistillParams(stage=2), max_epochs=4)
    strategy.on_epoch_start(3)
    assert strategy.weight == 1.0  # stage 2 never decays
    assert strategy.kd_loss.weight == 1.0
    assert DistillStrategy(estimator("rtmpose-t"), estimator("rtmpose-t"), DistillParams(), 4).kd_loss.weight == 0.1


def test_stage2_trains_only_the_head(tmp_path):
    torch.manual_seed(0)
    teacher, student = estimator("rtmpose-t"), estimator("rtmpose-t")
    # teacher_bn eval: the shared backbone's statistics stay too (train mode moves them; tested above).
    strategy = DistillStrategy(student, teacher, DistillParams(stage=2, teacher_bn="eval"), max_epochs=2)
    assert student.model.backbone is teacher.model.backbone
    before, teacher_before = snapshot(student), snapshot(teacher)
    trainer = fit(strategy, tmp_path, make_batches(student))
    assert {id(p) for p in trainer.params} == {id(p) for p in student.model.head.parameters()}
    after = student.state_dict()
    for k, v in after.items():
        if k.startswith("model.backbone."):
            assert torch.equal(v, before[k]), k  # weights and BN statistics
    assert any(not torch.equal(v, before[k]) for k, v in after.items() if k.startswith("model.head."))
    assert all(torch.equal(v, teacher_before[k]) for k, v in teacher.state_dict().items())


def test_stage2_requires_the_teacher_architecture():
    with pytest.raises(ValueError, match="architecture"):
        DistillStrategy(estimator("rtmpose-t"), estimator("rtmpose-s"), DistillParams(stage=2), max_epochs=2)


def test_keypoint_sets_must_match():
    with pytest.raises(ValueError, match="keypoint set"):
        DistillStrategy(estimator("rtmpose-t", "lsp14"), estimator("rtmpose-s", "coco17"), DistillParams(), 2)


# ------------------------------------------------------------------------------ config + merge
def experiment(tmp_path: Path, **strategy_params) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {
        "name": "distill-test", "strategy": "distill", "out_dir": str(tmp_path / "run"),
        "model": {"name": "rtmpose-t"}, "codec": {"name": "simcc"},
        "data": {"format": "lsp", "keypoint_set": "lsp14", "input_size": list(SIZE)},
        "train": {"epochs": 2}, "strategy_params": strategy_params})


def write_teacher(tmp_path: Path, name: str, kset: str = "lsp14") -> tuple[Path, dict]:
    est = estimator(name, kset)
    cfg = from_dict(ExperimentConfig, {"model": {"name": name}, "data": {"keypoint_set": kset, "input_size": list(SIZE)}})
    path = tmp_path / f"teacher-{name}-{kset}.pt"
    save_checkpoint({"strategy": {}, "estimator": est.state_dict(), "metadata": {"experiment": to_dict(cfg)}}, path)
    return path, est.state_dict()


def test_build_distill_loads_the_teacher_and_checks_its_keypoint_set(tmp_path):
    path, weights = write_teacher(tmp_path, "rtmpose-s")
    cfg = experiment(tmp_path, stage=1, teacher={"checkpoint": str(path)})
    strategy = build_distill(cfg, lambda: estimator("rtmpose-t"))
    assert all(torch.equal(v, weights[k]) for k, v in strategy.teacher.state_dict().items())
    coco_path, _ = write_teacher(tmp_path, "rtmpose-s", "coco17")
    with pytest.raises(ConfigError, match="keypoint set"):
        build_distill(experiment(tmp_path, teacher={"checkpoint": str(coco_path)}), lambda: estimator("rtmpose-t"))
    with pytest.raises(ConfigError, match="strategy_params.teacher.checkpoint"):
        build_distill(experiment(tmp_path), lambda: estimator("rtmpose-t"))
    with pytest.raises(ConfigError, match="strategy_params.temperature"):
        build_distill(experiment(tmp_path, temperature=2), lambda: estimator("rtmpose-t"))


def test_merge_gives_a_loadable_checkpoint_with_the_stage2_outputs(tmp_path):
    from posekit.cli import main
    from posekit.experiment import load_experiment

    torch.manual_seed(0)
    teacher_path, _ = write_teacher(tmp_path, "rtmpose-t")
    cfg = experiment(tmp_path, stage=2, teacher={"checkpoint": str(teacher_path)})
    strategy = build_distill(cfg, lambda: estimator("rtmpose-t"))
    fit(strategy, tmp_path / "run", make_batches(strategy.student))
    config_path = tmp_path / "stage2.yaml"
    config_path.write_text(yaml.safe_dump(to_dict(cfg)))
    out = tmp_path / "deploy.pt"
    assert main(["distill-merge", str(tmp_path / "run" / "last.pt"), str(out), "--config", str(config_path)]) == 0
    merged_cfg, merged = load_experiment(out)
    assert merged_cfg.strategy == "supervised" and merged_cfg.strategy_params == {}
    images = torch.randn(2, 3, SIZE[1], SIZE[0])
    strategy.eval()
    merged.eval()
    with torch.no_grad():
        for a, b in zip(strategy.student.model(images), merged.model(images)):
            assert torch.equal(a, b)
    stage1 = experiment(tmp_path, stage=1, teacher={"checkpoint": str(teacher_path)})
    config_path.write_text(yaml.safe_dump(to_dict(stage1)))
    assert main(["distill-merge", str(tmp_path / "run" / "last.pt"), str(out), "--config", str(config_path)]) == 2
