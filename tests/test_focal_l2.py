"""Focal L2 of Simple Pose: hand-computed factors, channel / scale weights, masks."""
from __future__ import annotations

import pytest
import torch

from posekit.models.losses.focal_l2 import MultiScaleFocalL2, focal_l2

PRED = torch.tensor([0.3, 0.2])
GT = torch.tensor([0.5, 0.0])
ONE = torch.ones(2)


def test_focal_factor_hand_computed():
    # gt 0.5 >= 0.01: st = s = 0.3, factor |1 - 0.3| = 0.7 -> 0.04 * 0.7 = 0.028
    # gt 0 < 0.01:    st = 1 - s = 0.8, factor 0.2       -> 0.04 * 0.2 = 0.008
    assert focal_l2(PRED, GT, ONE).item() == pytest.approx(0.036)
    assert focal_l2(PRED, GT, ONE, gamma=2).item() == pytest.approx(0.04 * 0.49 + 0.04 * 0.04)
    # alpha shifts st on foreground: st = 0.3 - 0.1 -> factor 0.8; beta on background: st = 0.8 - 0.1
    assert focal_l2(PRED, GT, ONE, alpha=0.1, beta=0.1).item() == pytest.approx(0.04 * 0.8 + 0.04 * 0.3)
    assert focal_l2(PRED, GT, ONE, focal=False).item() == pytest.approx(0.08)
    assert focal_l2(PRED, GT, torch.tensor([1.0, 0.0])).item() == pytest.approx(0.028)
    # the threshold decides which side a small target falls on
    assert focal_l2(PRED, torch.tensor([0.5, 0.005]), ONE, thre=0.001).item() == pytest.approx(
        0.028 + 0.195 ** 2 * 0.8)


def test_multiscale_weights_hand_computed():
    # 1 limb, 1 keypoint, mask, background = 4 channels; 2 scales (4x4, 2x2), 2 stacks
    loss = MultiScaleFocalL2(1, 1, focal=False, scale_weights=(1.0, 3.0))
    target = torch.zeros(1, 4, 4, 4)
    target[0, 1, :2, :2] = 1.0            # keypoint channel: one 2x2 block -> one pooled pixel = 1
    preds_stack = [torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 2, 2)]
    preds = [preds_stack, [p.clone() for p in preds_stack]]
    mask = torch.ones(1, 4, 4)
    # scale 0: 4 px of error 1 in the keypoint channel (x3) = 12; scale 1: 1 px x3 = 3
    expected = (1.0 * 12 + 3.0 * 3) / 4.0
    assert loss(preds, target, mask).item() == pytest.approx(expected)
    # person-mask channel x0.1: error 1 everywhere on it adds 16 * 0.1 and 4 * 0.1
    target[0, 2] = 1.0
    expected += (1.0 * 1.6 + 3.0 * 0.4) / 4.0
    assert loss(preds, target, mask).item() == pytest.approx(expected)


def test_mask_downsampled_or_given_per_scale():
    loss = MultiScaleFocalL2(1, 1, focal=False, scale_weights=(0.0, 1.0))
    target = torch.ones(1, 4, 4, 4)
    preds = [[torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 2, 2)]]
    mask = torch.ones(1, 4, 4)
    mask[0, :2, :2] = 0                   # bilinear to 2x2 -> exactly one pixel 0
    per_pixel = 1 + 3 + 0.1 + 1           # channel weights summed
    assert loss(preds, target, mask).item() == pytest.approx(3 * per_pixel)
    given = [mask, torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])]
    assert loss(preds, target, given).item() == pytest.approx(2 * per_pixel)


def test_gradient_flows_and_batch_normalised():
    loss = MultiScaleFocalL2(1, 1)
    pred = torch.full((2, 4, 4, 4), 0.5, requires_grad=True)
    value = loss([[pred, pred[:, :, ::2, ::2], pred[:, :, ::4, ::4], pred[:, :, :1, :1], pred[:, :, :1, :1]]],
                 torch.zeros(2, 4, 4, 4), torch.ones(2, 4, 4))
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
