"""Simple Pose body-part codec: hand-computed limb and keypoint maps, channel layout, round trip."""
from __future__ import annotations

import math

import numpy as np
import pytest

from posekit.codecs import build_codec
from posekit.codecs.bodypart import BodyPartCodec
from posekit.keypoints import KeypointSet

TWO = KeypointSet("two_points", ("a", "b"), (), (0.1, 0.1), ((0, 1),))


def two_point_codec() -> BodyPartCodec:
    # input 64x64, stride 4: output pixel (i, j) has its centre at input (4i + 1.5, 4j + 1.5)
    return BodyPartCodec(TWO, input_size=(64, 64))


def limb_value(d: float) -> float:
    return math.exp(-d * d / (2 * 7.0 ** 2))


def test_limb_map_hand_computed():
    codec = two_point_codec()
    # horizontal limb along output row 8 (y = 33.5) from column 5 to 15
    t = codec.encode(np.array([[[21.5, 33.5], [61.5, 33.5]]]), np.ones((1, 2)))["targets"]
    limb = t[0]
    assert limb[8, 5] == pytest.approx(1.0)
    assert limb[9, 8] == pytest.approx(limb_value(4.0), rel=1e-5)    # 4 px below the line
    assert limb[7, 12] == pytest.approx(limb_value(4.0), rel=1e-5)
    # the box is padded by one stride: rows round((33.5 -+ 4) / 4) = 7..9, columns 4..16
    assert limb[10, 8] == 0.0 and limb[6, 8] == 0.0
    assert limb[8, 3] == 0.0 and limb[8, 4] == pytest.approx(1.0)


def test_limb_map_floor_and_average():
    codec = two_point_codec()
    # a diagonal limb covers the whole grid with its box; far from the line the value is floored
    t = codec.encode(np.array([[[1.5, 1.5], [61.5, 61.5]]]), np.ones((1, 2)))["targets"]
    assert t[0, 0, 15] == pytest.approx(0.01)          # distance 42.4 px: exp(...) ~ 1e-8 -> 0.01
    # two parallel limbs of one type, 4 px apart: averaged where their boxes overlap
    kps = np.array([[[21.5, 33.5], [61.5, 33.5]], [[21.5, 37.5], [61.5, 37.5]]])
    t = codec.encode(kps, np.ones((2, 2)))["targets"]
    both = (1.0 + limb_value(4.0)) / 2
    assert t[0, 8, 10] == pytest.approx(both, rel=1e-5)   # row 8: first on the line, second 4 px off
    assert t[0, 9, 10] == pytest.approx(both, rel=1e-5)
    assert t[0, 7, 10] == pytest.approx(limb_value(4.0), rel=1e-5)   # only the first limb's box
    assert t[0, 10, 10] == pytest.approx(limb_value(4.0), rel=1e-5)  # only the second's


def test_keypoint_gaussian_sigma9_truncated():
    codec = two_point_codec()
    t = codec.encode(np.array([[[21.5, 33.5], [61.5, 33.5]]]), np.ones((1, 2)))["targets"]
    a = t[1]   # channel order: 1 limb, then keypoints a, b, then mask, max over keypoints
    assert a[8, 5] == pytest.approx(1.0)
    assert a[8, 6] == pytest.approx(math.exp(-16 / 162), rel=1e-5)
    assert a[8, 11] == pytest.approx(math.exp(-576 / 162), rel=1e-5)   # 24 px: 0.029 kept
    assert a[8, 12] == 0.0                                              # 28 px: 0.0079 < 0.01
    # The last channel is the max of the keypoint maps (official py_data_heatmapper.py), not 1 - max.
    np.testing.assert_allclose(t[4], t[1:3].max(0), atol=1e-6)


def test_invisible_endpoint_means_no_limb():
    codec = two_point_codec()
    t = codec.encode(np.array([[[21.5, 33.5], [61.5, 33.5]]]), np.array([[1, 0]]))["targets"]
    assert t[0].max() == 0.0 and t[2].max() == 0.0 and t[1].max() == pytest.approx(1.0)


def test_coco_layout_channels_and_neck():
    codec = build_codec("simplepose")
    assert codec.num_channels == 50 and codec.output_size == (128, 128)
    assert codec.output_sizes == [(128, 128), (64, 64), (32, 32), (16, 16), (8, 8)]
    kp = np.zeros((1, 17, 2))
    vis = np.zeros((1, 17))
    kp[0, 5], kp[0, 6] = (201.5, 101.5), (297.5, 101.5)     # left / right shoulder
    vis[0, [5, 6]] = 1
    t = codec.encode(kp, vis)["targets"]
    neck = t[30 + 1]
    assert np.unravel_index(neck.argmax(), neck.shape) == (25, 62)    # neck (249.5, 101.5) = 4 * (62, 25) + 1.5
    assert neck.max() == pytest.approx(1.0)
    # neck -> Rsho (limb 9) and neck -> Lsho (limb 12) exist, neck -> nose (limb 0) does not
    assert t[9].max() > 0.9 and t[12].max() > 0.9 and t[0].max() == 0.0
    vis[0, 5] = 0
    t = codec.encode(kp, vis)["targets"]
    assert t[31].max() == 0.0    # neck only when both shoulders are visible


def test_flip_order_matches_published():
    codec = build_codec("simplepose")
    # flip_paf_ord / flip_heat_ord from the official config.py
    paf = [0, 2, 1, 4, 3, 6, 5, 8, 7, 12, 13, 14, 9, 10, 11, 18, 19, 20, 15, 16, 17, 22, 21, 25, 26, 23, 24,
           28, 27, 29]
    heat = [0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16]
    np.testing.assert_array_equal(codec.flip_index_channels(), paf + [30 + h for h in heat] + [48, 49])


def test_crowdpose_layout():
    codec = build_codec("simplepose", keypoint_set="crowdpose14", input_size=(256, 256))
    assert codec.num_channels == 20 + 14 + 2
    perm = codec.flip_index_channels()
    assert sorted(perm) == list(range(36)) and (perm[perm] == np.arange(36)).all()


def test_round_trip_two_people():
    codec = build_codec("simplepose", input_size=(256, 256))
    rng = np.random.default_rng(0)
    base = np.array([[64, 40], [60, 36], [68, 36], [56, 38], [72, 38], [48, 60], [80, 60], [44, 90], [84, 90],
                     [42, 118], [86, 118], [54, 124], [74, 124], [52, 170], [76, 170], [50, 214], [78, 214]],
                    float)
    kps = np.stack([base, base + [120, 10]]) + rng.uniform(-1, 1, (2, 17, 2))
    (poses, scores), = codec.decode(codec.encode(kps, np.ones((2, 17)))["targets"][None])
    assert poses.shape == (2, 17, 3) and (scores > 0.9).all()
    poses = poses[np.argsort(poses[:, 0, 0])]
    assert np.abs(poses[..., :2] - kps).max() < 1.5


def test_upsample_is_torch_bicubic():
    import torch
    import torch.nn.functional as F
    codec = build_codec("simplepose", input_size=(192, 128))
    maps = np.random.default_rng(1).random((50, 32, 48)).astype(np.float32)
    ref = F.interpolate(torch.from_numpy(maps)[None], size=(128, 192), mode="bicubic", align_corners=False)[0]
    np.testing.assert_allclose(codec.upsample(maps), ref.numpy(), atol=1e-5)


def test_flip_aggregation_recovers_the_same_people():
    codec = build_codec("simplepose", input_size=(256, 256))
    base = np.array([[64, 40], [60, 36], [68, 36], [56, 38], [72, 38], [48, 60], [80, 60], [44, 90], [84, 90],
                     [42, 118], [86, 118], [54, 124], [74, 124], [52, 170], [76, 170], [50, 214], [78, 214]],
                    float)
    maps = codec.encode(base[None], np.ones((1, 17)))["targets"]
    # the maps of the mirrored image: mirrored keypoints with left/right swapped
    mirrored = base.copy()
    mirrored[:, 0] = 255 - mirrored[:, 0]
    mirrored = mirrored[codec.keypoint_set.flip_index]
    flipped = codec.encode(mirrored[None], np.ones((1, 17)))["targets"]
    np.testing.assert_allclose(codec.aggregate([maps], [flipped]), codec.upsample(maps), atol=0.05)
    (poses, scores), = codec.decode(maps[None], flipped[None], codec.keypoint_set.flip_index)
    assert len(poses) == 1 and np.abs(poses[0, :, :2] - base).max() < 1.5


def test_non_square_maps_decode_at_their_own_size():
    # At test time the image is resized by its short side, so the network sees e.g. 384x256 while the
    # codec was configured (trained) at 256x256. Decoding must use the maps' own size: resizing them to
    # the configured input squeezed x by 256/384 (a nose at x = 300 came back at 200).
    wide = build_codec("simplepose", input_size=(384, 256))
    square = build_codec("simplepose", input_size=(256, 256))
    base = np.array([[64, 40], [60, 36], [68, 36], [56, 38], [72, 38], [48, 60], [80, 60], [44, 90], [84, 90],
                     [42, 118], [86, 118], [54, 124], [74, 124], [52, 170], [76, 170], [50, 214], [78, 214]],
                    float) + [230, 0]
    maps = wide.encode(base[None], np.ones((1, 17)))["targets"][None]
    (poses, scores), = square.decode(maps)
    assert poses.shape == (1, 17, 3) and scores[0] > 0.9
    assert np.abs(poses[0, :, :2] - base).max() < 1.5
