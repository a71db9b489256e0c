"""AE pull/push and masked heatmap MSE on hand-computed examples."""
from __future__ import annotations

import math

import pytest
import torch

from posekit.models.losses.ae import AssociativeEmbeddingLoss, ae_loss_per_image
from posekit.models.losses.heatmap_masked import MaskedHeatmapMSE


def test_pull_and_push_by_hand() -> None:
    tags = torch.zeros(1, 2, 2, 2)  # K=2, H=W=2: flat index k*4 + y*2 + x
    tags[0, 0, 0, 0], tags[0, 1, 0, 0] = 1.0, 3.0     # person 0: tags 1, 3 -> ref 2, pull 1
    tags[0, 0, 1, 1] = 5.0                             # person 1: one joint, tag 5 -> pull 0
    joints = torch.zeros(1, 3, 2, 2, dtype=torch.long)  # person 2: no valid joint, ignored
    joints[0, 0, 0], joints[0, 0, 1] = torch.tensor([0, 1]), torch.tensor([4, 1])
    joints[0, 1, 0] = torch.tensor([3, 1])
    push, pull = ae_loss_per_image(tags, joints)
    assert pull.item() == pytest.approx((1.0 + 0.0) / 2)
    assert push.item() == pytest.approx(2 * math.exp(-9.0) / 2 * 0.5)
    weighted_push, weighted_pull = AssociativeEmbeddingLoss()(tags, joints)
    assert weighted_pull.item() == pytest.approx(0.5e-3) and weighted_push.item() == pytest.approx(math.exp(-9) * 0.5e-3)


def test_single_person_has_no_push_and_gradient_pulls_tags_together() -> None:
    tags = torch.tensor([[[[0.0, 2.0]]]], requires_grad=True)  # K=1, H=1, W=2
    joints = torch.tensor([[[[0, 1]], [[1, 1]]]])              # two persons, one joint each
    joints_one = torch.tensor([[[[0, 1]], [[0, 0]]]])
    push, pull = ae_loss_per_image(tags, joints_one)
    assert push.item() == 0 and pull.item() == 0
    push, _ = ae_loss_per_image(tags, joints)
    assert push.item() == pytest.approx(math.exp(-4) * 0.5)
    push.sum().backward()
    assert tags.grad[0, 0, 0, 0] > 0 > tags.grad[0, 0, 0, 1]  # push drives the two tags apart


def test_masked_mse_ignores_masked_pixels_and_averages_over_k_h_w() -> None:
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.ones(1, 2, 2, 2)
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    assert MaskedHeatmapMSE()(pred, target, mask).item() == pytest.approx(2 / 8)
    with pytest.raises(ValueError, match="mask"):
        MaskedHeatmapMSE()(pred, target, mask[0])
