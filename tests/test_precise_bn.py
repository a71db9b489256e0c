"""Precise BatchNorm: exact averages of per-batch statistics, nothing else touched, and the engine
hook (train.precise_bn_batches) that recomputes them at each epoch end, resumably."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from _toy_training import ToyDataset, ToyEstimator, toy_config, toy_loader
from posekit.config import ConfigError, TrainConfig
from posekit.training import SupervisedStrategy, Trainer, seed_everything
from posekit.training.precise_bn import recompute_batchnorm


def test_running_statistics_are_the_average_of_the_batch_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.ReLU())
    net.eval()
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "tracked" not in k}
    batches = [torch.randn(4, 2, 5, 5) * (i + 1) + i for i in range(3)]
    assert recompute_batchnorm([net], batches) == 3
    with torch.no_grad():
        features = [net[0](b) for b in batches]
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in features])
    variances = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in features])
    bn = net[1]
    torch.testing.assert_close(bn.running_mean, means.mean(0))
    torch.testing.assert_close(bn.running_var, variances.mean(0))
    assert int(bn.num_batches_tracked) == 3 and bn.momentum == 0.1 and not net.training
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in weights.items())


def test_no_batch_leaves_the_statistics_as_they_were():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.fill_(3.0)
    assert recompute_batchnorm([bn], []) == 0
    assert torch.equal(bn.running_mean, torch.full((2,), 3.0)) and bn.momentum == 0.1


class Interrupted(Exception):
    pass


class StopAtSecondEpoch(SupervisedStrategy):
    """Raises at the first step of epoch 1, after epoch 0's checkpoint (a killed run)."""

    def loss(self, batch, epoch, iteration):
        if epoch == 1:
            raise Interrupted
        return super().loss(batch, epoch, iteration)


def trained(tmp_path, resume: bool = False, precise: int = 2, strategy=SupervisedStrategy) -> ToyEstimator:
    seed_everything(0)
    estimator = ToyEstimator()
    cfg = toy_config(epochs=2, precise_bn_batches=precise)
    Trainer(cfg, strategy(estimator), toy_loader(ToyDataset(24), 4), tmp_path, resume=resume).fit()
    return estimator


def test_engine_recomputes_at_each_epoch_end_and_resumes_exactly(tmp_path):
    straight = trained(tmp_path / "a")
    bn = straight.model[1]
    # The last thing each epoch does to BN is the recomputation over 2 batches.
    assert int(bn.num_batches_tracked) == 2
    plain = trained(tmp_path / "p", precise=0)
    assert int(plain.model[1].num_batches_tracked) == 12
    assert not torch.allclose(plain.model[1].running_mean, bn.running_mean)
    # Interrupted in epoch 1 and resumed: the same weights and statistics as the straight run.
    with pytest.raises(Interrupted):
        trained(tmp_path / "b", strategy=StopAtSecondEpoch)
    resumed = trained(tmp_path / "b", resume=True)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_negative_batches_is_a_config_error():
    with pytest.raises(ConfigError, match="train.precise_bn_batches"):
        TrainConfig(precise_bn_batches=-1).check()
