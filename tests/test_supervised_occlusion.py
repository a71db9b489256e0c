"""Supervised training's optional occlusion (Cut-Occlude or Joint Cutout at each crop's own labelled
joints): configured through strategy_params with errors that name the key, confined to boxes around
the joints, drawn from the torch RNG (so a resumed run repeats it), and seen by the estimator's loss."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from _toy_training import ToyDataset, ToyEstimator, toy_config, toy_evaluate, toy_loader
from posekit.config import ConfigError, ExperimentConfig, from_dict
from posekit.estimators.topdown import TopDownEstimator
from posekit.training import Trainer, seed_everything
from posekit.training.strategies.supervised import SupervisedParams, SupervisedStrategy, build_supervised, occlude


def _config(**strategy_params: Any) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {"model": {"name": "rtmpose-t"}, "data": {"keypoint_set": "lsp14"},
                                        "strategy_params": strategy_params})


def _batch(seed: int = 0, size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(size, 3, 64, 48, generator=gen)
    keypoints = torch.rand(size, 14, 2, generator=gen) * torch.tensor([47.0, 63.0])
    return images, keypoints


@pytest.mark.parametrize("occlusion", ["cut_occlude", "joint_cutout"])
def test_every_changed_pixel_lies_in_a_box_around_a_joint(occlusion):
    images, keypoints = _batch()
    params = SupervisedParams(occlusion=occlusion, occlusion_prob=1.0, patch_half_size=(3, 6), jitter_sd=2.0)
    torch.manual_seed(0)
    out = occlude(images, keypoints, params)
    changed = (out != images).any(1)  # (B, H, W)
    assert changed.flatten(1).any(1).all(), "with occlusion_prob 1 every crop is occluded"
    ys, xs = torch.meshgrid(torch.arange(64), torch.arange(48), indexing="ij")
    # Cut-Occlude centres its box on the joint itself; Joint Cutout on the joint jittered by N(0, 2) px.
    reach = 6 + (0 if occlusion == "cut_occlude" else 12)
    for i in range(len(images)):
        near = torch.zeros(64, 48, dtype=torch.bool)
        for x, y in keypoints[i].round():
            near |= ((xs - x).abs() <= reach) & ((ys - y).abs() <= reach)
        assert not (changed[i] & ~near).any(), f"crop {i}: a pixel changed away from every joint"


def test_no_occlusion_and_probability_zero_leave_the_batch_alone():
    images, keypoints = _batch()
    assert occlude(images, keypoints, SupervisedParams()) is images
    assert occlude(images, keypoints, SupervisedParams(occlusion="cut_occlude", occlusion_prob=0.0)) is images


def test_the_share_of_occluded_crops_follows_the_probability_and_the_torch_seed():
    images, keypoints = _batch(size=200)
    params = SupervisedParams(occlusion="cut_occlude", occlusion_prob=0.3, patch_half_size=(3, 6))
    torch.manual_seed(5)
    first = occlude(images, keypoints, params)
    torch.manual_seed(5)
    again = occlude(images, keypoints, params)
    assert torch.equal(first, again), "the draw comes from the torch RNG the engine saves, so a resume repeats it"
    share = float((first != images).flatten(1).any(1).float().mean())
    assert 0.2 < share < 0.4


class _Spy(TopDownEstimator):
    """Records the images its loss is given."""

    def __init__(self):
        torch.nn.Module.__init__(self)
        self.seen: list[torch.Tensor] = []

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        self.seen.append(batch["image"])
        return {"loss": batch["image"].sum()}


def test_the_loss_sees_the_occluded_batch_and_the_callers_batch_is_untouched():
    images, keypoints = _batch()
    batch = {"image": images, "keypoints": keypoints}
    spy = _Spy()
    strategy = SupervisedStrategy(spy, SupervisedParams(occlusion="cut_occlude", occlusion_prob=1.0,
                                                        patch_half_size=(3, 6)))
    strategy.loss(batch, 0, 0)
    assert batch["image"] is images
    assert not torch.equal(spy.seen[0], images)
    SupervisedStrategy(spy).loss(batch, 0, 0)  # no strategy_params: the batch as it came
    assert spy.seen[1] is images


@pytest.mark.parametrize("params, key", [
    ({"occlusion": "cutout"}, "strategy_params.occlusion"),
    ({"occlusion": "cut_occlude", "occlusion_prob": 1.5}, "strategy_params.occlusion_prob"),
    ({"occlusion": "cut_occlude", "occlusion_joints": 0}, "strategy_params.occlusion_joints"),
    ({"occlusion": "cut_occlude", "patch_half_size": [8, 4]}, "strategy_params.patch_half_size"),
    ({"occlusion": "cut_occlude", "jitter_sd": -1}, "strategy_params.jitter_sd"),
    ({"occlusoin": "cut_occlude"}, "strategy_params.occlusoin"),
])
def test_bad_strategy_params_are_config_errors_naming_the_key(params, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_supervised(_config(**params), ToyEstimator)


def test_occlusion_needs_a_top_down_model():
    with pytest.raises(ConfigError, match="needs a top-down model"):
        build_supervised(_config(occlusion="cut_occlude"), ToyEstimator)
    assert build_supervised(_config(), ToyEstimator).params.occlusion == "none"


class _WithKeypoints(ToyDataset):
    """The engine tests' toy images with two fixed joints each, as a top-down batch carries them."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {**super().__getitem__(i), "keypoints": torch.tensor([[1.0 + i % 5, 2.0], [6.0, 1.0 + i % 6]])}


class _Crash(RuntimeError):
    pass


class _Occluding(SupervisedStrategy):
    def __init__(self, crash_at: int | None):
        super().__init__(ToyEstimator(), SupervisedParams(occlusion="cut_occlude", occlusion_prob=0.5,
                                                          occlusion_joints=1, patch_half_size=(1, 3), jitter_sd=1.0))
        self.crash_at = crash_at

    def loss(self, batch, epoch, iteration):
        if iteration == self.crash_at:
            raise _Crash(f"simulated crash at iteration {iteration}")
        return super().loss(batch, epoch, iteration)


def _train(out_dir, crash_at=None, resume=False) -> Trainer:
    seed_everything(0)
    trainer = Trainer(toy_config(), _Occluding(crash_at), toy_loader(_WithKeypoints(20), 4), out_dir,
                      evaluate=toy_evaluate, checkpoint_interval=3, resume=resume)
    trainer.fit()
    return trainer


def test_a_killed_run_with_occlusion_resumes_exactly(tmp_path):
    reference = _train(tmp_path / "ref")
    with pytest.raises(_Crash):
        _train(tmp_path / "run", crash_at=8)
    resumed = _train(tmp_path / "run", resume=True)
    for key, value in reference.strategy.state_dict().items():
        assert torch.equal(resumed.strategy.state_dict()[key], value), key
    seed_everything(0)  # the same run without the occlusion: the same start, other weights at the end
    plain = Trainer(toy_config(), SupervisedStrategy(ToyEstimator()), toy_loader(_WithKeypoints(20), 4),
                    tmp_path / "plain", evaluate=toy_evaluate)
    plain.fit()
    assert any(not torch.equal(plain.strategy.state_dict()[k], v) for k, v in reference.strategy.state_dict().items()
               if v.is_floating_point()), "the occlusion changed what was trained"
