"""SimCC codec (encode/decode/flip) and KLDiscretLoss."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.io
import torch

from posekit.codecs import build_codec
from posekit.codecs.simcc import SimCCCodec, simcc_sigma
from posekit.keypoints import get_keypoint_set
from posekit.models.losses.kl_discrete import KLDiscretLoss

W, H = 192, 256


def test_sigma_rule_gives_the_published_sigmas():
    assert simcc_sigma((192, 256)) == (4.9, 5.66)
    assert simcc_sigma((288, 384)) == (6.0, 6.93)
    assert build_codec("simcc", input_size=(192, 256)).sigma == (4.9, 5.66)


def test_encode_gaussian_labels_in_bin_units():
    codec = SimCCCodec((W, H), sigma=(4.9, 5.66))
    enc = codec.encode(np.array([[10.3, 20.7], [5.0, 5.0]]), np.array([1, 0]))
    assert enc["keypoint_x_labels"].shape == (2, 384) and enc["keypoint_y_labels"].shape == (2, 512)
    np.testing.assert_array_equal(enc["keypoint_weights"], [1, 0])
    x, y = enc["keypoint_x_labels"][0], enc["keypoint_y_labels"][0]
    # centre bins: round(10.3 * 2) = 21, round(20.7 * 2) = 41; unnormalised Gaussian.
    assert x.argmax() == 21 and y.argmax() == 41 and x.max() == pytest.approx(1.0)
    assert x[21 + 3] == pytest.approx(math.exp(-9 / (2 * 4.9 ** 2)), rel=1e-6)
    assert y[41 - 5] == pytest.approx(math.exp(-25 / (2 * 5.66 ** 2)), rel=1e-6)
    assert not enc["keypoint_x_labels"][1].any()  # invisible -> zero label, zero weight


def test_encode_far_outside_gets_zero_weight_but_near_edge_keeps_it():
    codec = SimCCCodec((W, H))
    enc = codec.encode(np.array([[-40.0, 10.0], [-3.0, 10.0], [10.0, 300.0]]), np.ones(3))
    # 3 sigma = 14.7 bins: -80 bins is out, -6 bins still has an in-bounds tail, y=600 bins is out.
    np.testing.assert_array_equal(enc["keypoint_weights"], [0, 1, 0])


def test_normalize_divides_by_gaussian_area():
    a = SimCCCodec((W, H), normalize=False).encode(np.array([[50.0, 60.0]]), np.ones(1))
    b = SimCCCodec((W, H), normalize=True).encode(np.array([[50.0, 60.0]]), np.ones(1))
    np.testing.assert_allclose(b["keypoint_x_labels"] * 4.9 * math.sqrt(2 * math.pi), a["keypoint_x_labels"], rtol=1e-5, atol=1e-30)


def test_decode_argmax_over_split_and_min_score():
    codec = SimCCCodec((W, H))
    x = np.full((1, 2, 384), -1.0, np.float32)
    y = np.full((1, 2, 512), -1.0, np.float32)
    x[0, 0, 101], y[0, 0, 40] = 3.0, 2.0
    x[0, 1, 7], y[0, 1, 500] = 0.5, 4.0
    kpts, scores = codec.decode((torch.from_numpy(x), y))
    np.testing.assert_allclose(kpts, [[[50.5, 20.0], [3.5, 250.0]]])
    np.testing.assert_allclose(scores, [[2.0, 0.5]])


def _round_trip_error(codec: SimCCCodec, points: np.ndarray) -> float:
    enc = codec.encode(points, np.ones(len(points)))
    kpts, _ = codec.decode((enc["keypoint_x_labels"][None], enc["keypoint_y_labels"][None]))
    return float(np.abs(kpts[0] - points).max())


def _to_input(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Map image points into the 192x256 input: box centre, 1.25 padding, aspect fixed (as top-down)."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    bw, bh = box[2] * 1.25, box[3] * 1.25
    bw, bh = max(bw, bh * W / H), max(bh, bw * H / W)
    return np.stack([(points[:, 0] - cx) / bw * W + (W - 1) / 2, (points[:, 1] - cy) / bh * H + (H - 1) / 2], 1)


def test_round_trip_on_real_lsp_keypoints(lsp_root):
    joints = scipy.io.loadmat(lsp_root / "joints.mat")["joints"]  # (3, 14, 2000), flag 0 = visible
    codec = SimCCCodec((W, H))
    worst = 0.0
    for i in range(0, 2000, 10):
        pts = joints[:2, :, i].T.astype(np.float64)
        lo, hi = pts.min(0), pts.max(0)
        inp = _to_input(pts, np.array([*lo, *(hi - lo)]))
        worst = max(worst, _round_trip_error(codec, inp))
    assert worst <= 0.25 + 1e-6  # rounding to the nearest half-pixel bin; the contract is 0.5 px


def test_round_trip_on_real_coco_keypoints(coco_subset):
    data = json.loads((coco_subset / "person_keypoints_merged.json").read_text())
    codec = SimCCCodec((W, H))
    checked = 0
    for ann in data["annotations"]:
        kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        if ann.get("iscrowd") or (kp[:, 2] > 0).sum() < 3:
            continue
        inp = _to_input(kp[kp[:, 2] > 0, :2], np.asarray(ann["bbox"], np.float64))
        inp = inp[(inp >= 0).all(1) & (inp[:, 0] <= W - 1) & (inp[:, 1] <= H - 1)]
        assert _round_trip_error(codec, inp) <= 0.5
        checked += 1
    assert checked > 100


def test_flip_back_restores_the_original_frame_exactly():
    kset = get_keypoint_set("coco17")
    rng = np.random.default_rng(0)
    points = np.round(rng.uniform([0, 0], [W - 1, H - 1], (17, 2)) * 2) / 2  # on bin centres
    codec = SimCCCodec((W, H))
    # The mirrored image: x -> w-1-x and left/right keypoints swap channels.
    mirrored = points[kset.flip_index].copy()
    mirrored[:, 0] = W - 1 - mirrored[:, 0]
    enc = codec.encode(mirrored, np.ones(17))
    back = codec.flip_back((enc["keypoint_x_labels"][None], enc["keypoint_y_labels"][None]), kset.flip_index)
    kpts, _ = codec.decode(back)
    np.testing.assert_allclose(kpts[0], points)
    # A plain reversal of the bins (mmpose's flip_vectors) would land half a pixel to the right.
    naive_x = enc["keypoint_x_labels"][None][:, kset.flip_index, ::-1]
    np.testing.assert_allclose(naive_x.argmax(-1)[0] / 2, points[:, 0] + 0.5)


def test_flip_average_of_consistent_outputs_keeps_the_peaks():
    kset = get_keypoint_set("coco17")
    codec = SimCCCodec((W, H))
    points = np.tile([[60.0, 100.5]], (17, 1))
    enc = codec.encode(points, np.ones(17))
    mirrored = points.copy()
    mirrored[:, 0] = W - 1 - mirrored[:, 0]
    enc_m = codec.encode(mirrored, np.ones(17))
    avg = codec.flip_average((enc["keypoint_x_labels"][None], enc["keypoint_y_labels"][None]),
                             (enc_m["keypoint_x_labels"][None], enc_m["keypoint_y_labels"][None]), kset.flip_index)
    np.testing.assert_allclose(codec.decode(avg)[0][0], points)


def test_kl_discret_loss_hand_computed():
    # B=1, K=2, 2 bins per axis. beta = label_beta = 10.
    pred_x = torch.tensor([[[0.0, 0.1], [0.2, 0.2]]])
    label_x = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    pred_y = torch.tensor([[[0.3, 0.0], [0.0, 0.0]]])
    label_y = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    weights = torch.tensor([[1.0, 0.5]])

    def kl_mean(pred, label):
        p = [math.exp(10 * v) for v in pred]
        p = [v / sum(p) for v in p]
        q = [math.exp(10 * v) for v in label]
        q = [v / sum(q) for v in q]
        return sum(qi * math.log(qi / pi) for qi, pi in zip(q, p)) / len(p)

    k0 = kl_mean([0.0, 0.1], [1, 0]) + kl_mean([0.3, 0.0], [1, 0])
    k1 = kl_mean([0.2, 0.2], [0, 1]) + kl_mean([0.0, 0.0], [1, 0])
    expected = (1.0 * k0 + 0.5 * k1) / 2  # weighted, summed over samples and keypoints, / K
    got = KLDiscretLoss()(pred_x, pred_y, label_x, label_y, weights)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    unweighted = KLDiscretLoss(use_target_weight=False)(pred_x, pred_y, label_x, label_y)
    assert unweighted.item() == pytest.approx((k0 + k1) / 2, rel=1e-5)


def test_kl_discret_loss_sums_over_batch_and_is_zero_at_the_label():
    label_x = torch.rand(3, 4, 10)
    label_y = torch.rand(3, 4, 12)
    loss = KLDiscretLoss()
    w = torch.ones(3, 4)
    assert loss(label_x, label_y, label_x, label_y, w).item() == pytest.approx(0.0, abs=1e-6)
    px, py = torch.randn(3, 4, 10), torch.randn(3, 4, 12)
    one = sum(loss(px[i:i + 1], py[i:i + 1], label_x[i:i + 1], label_y[i:i + 1], w[i:i + 1]) for i in range(3))
    assert loss(px, py, label_x, label_y, w).item() == pytest.approx(one.item(), rel=1e-5)
    with pytest.raises(ValueError, match="do not match"):
        loss(px, py, label_y, label_x, w)
