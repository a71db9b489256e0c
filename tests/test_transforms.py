"""Transforms on hand-made cases: warps land keypoints where the pixels go, flips, half-body and
cut-across-the-body crops, photometric ops."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.data.transforms import (
    apply_affine, bbox_xywh_to_center_scale, body_halves, coarse_dropout, compose_affine, cut_body_center_scale,
    flip_image, flip_keypoints, get_warp_matrix, half_body_center_scale, half_body_ids, hflip_matrix, hsv_jitter,
    invert_affine, random_blur, random_scale_rotation, shoulders_and_hips, truncated_normal,
)
from posekit.keypoints import KeypointSet, get_keypoint_set


def test_center_scale_pads_and_fixes_aspect():
    # 100 x 100 box, aspect 192/256 = 0.75: padded to 125 x 125, then height grows to 125 / 0.75.
    center, scale = bbox_xywh_to_center_scale([10, 20, 100, 100], 0.75, padding=1.25)
    np.testing.assert_allclose(center, [60, 70])
    np.testing.assert_allclose(scale, [125, 125 / 0.75])
    # A wide box grows in height only; a tall one in width only.
    _, wide = bbox_xywh_to_center_scale([0, 0, 300, 100], 0.75, padding=1.0)
    np.testing.assert_allclose(wide, [300, 400])
    _, tall = bbox_xywh_to_center_scale([0, 0, 30, 400], 0.75, padding=1.0)
    np.testing.assert_allclose(tall, [300, 400])


def test_warp_matrix_hand_computed():
    # Region 96 x 128 around (100, 50) onto a 48 x 64 output: factor 0.5, centre -> (24, 32).
    warp = get_warp_matrix((100, 50), (96, 128), 0.0, (48, 64))
    np.testing.assert_allclose(warp, [[0.5, 0, 24 - 50], [0, 0.5, 32 - 25]])
    np.testing.assert_allclose(apply_affine(np.array([[100.0, 50.0], [148.0, 50.0]]), warp), [[24, 32], [48, 32]])
    # 90 degrees counter-clockwise on screen (cv2.getRotationMatrix2D's sense): a point to the right
    # of the centre moves above it (smaller y).
    rot = get_warp_matrix((0, 0), (10, 10), 90.0, (10, 10))
    np.testing.assert_allclose(apply_affine(np.array([1.0, 0.0]), rot), [5, 4], atol=1e-12)
    np.testing.assert_allclose(rot[:, :2], cv2.getRotationMatrix2D((0, 0), 90.0, 1.0)[:, :2], atol=1e-12)
    # inv=True is the inverse map; UDP maps the centre to the middle pixel centre.
    np.testing.assert_allclose(get_warp_matrix((100, 50), (96, 128), 30, (48, 64), inv=True),
                               cv2.invertAffineTransform(get_warp_matrix((100, 50), (96, 128), 30, (48, 64))))
    udp = get_warp_matrix((100, 50), (96, 128), 0.0, (48, 64), udp=True)
    np.testing.assert_allclose(apply_affine(np.array([100.0, 50.0]), udp), [23.5, 31.5])
    np.testing.assert_allclose(udp[0, 0], 47 / 96)
    warp = get_warp_matrix((100, 50), (96, 128), 30, (48, 64))
    np.testing.assert_allclose(compose_affine(invert_affine(warp), warp), np.eye(2, 3), atol=1e-12)
    # A shift moves the region by shift * scale.
    shifted = get_warp_matrix((100, 50), (96, 128), 0.0, (48, 64), shift=(0.5, 0))
    np.testing.assert_allclose(apply_affine(np.array([148.0, 50.0]), shifted), [24, 32])


@pytest.mark.parametrize("rot", [0.0, 33.0, -70.0])
def test_warped_keypoint_lands_on_its_pixel(rot):
    """A bright dot drawn at a keypoint is found by cv2.warpAffine where the matrix sends the keypoint."""
    image = np.zeros((200, 300, 3), np.uint8)
    point = np.array([157.0, 93.0])
    image[93, 157] = 255
    # A 4x zoom spreads the dot's bilinear footprint over many output pixels: its centroid is exact.
    warp = get_warp_matrix((150, 100), (24, 32), rot, (96, 128))
    out = cv2.warpAffine(image, warp, (96, 128), flags=cv2.INTER_LINEAR)[..., 0].astype(np.float64)
    ys, xs = np.nonzero(out)
    found = np.array([(xs * out[ys, xs]).sum(), (ys * out[ys, xs]).sum()]) / out[ys, xs].sum()
    np.testing.assert_allclose(found, apply_affine(point, warp), atol=0.05)


def test_flip_twice_is_identity_and_swaps_sides():
    ks = get_keypoint_set("coco17")
    rng = np.random.default_rng(0)
    kps = rng.uniform(0, 99, (2, 17, 2))
    vis = rng.integers(0, 2, (2, 17)).astype(np.float32)
    once, vis1 = flip_keypoints(kps, vis, 100, ks.flip_index)
    twice, vis2 = flip_keypoints(once, vis1, 100, ks.flip_index)
    np.testing.assert_allclose(twice, kps)
    np.testing.assert_array_equal(vis2, vis)
    left, right = ks.index("left_wrist"), ks.index("right_wrist")
    np.testing.assert_allclose(once[:, left], np.stack([99 - kps[:, right, 0], kps[:, right, 1]], -1))
    assert vis1[0, left] == vis[0, right]
    nose = ks.index("nose")
    np.testing.assert_allclose(once[:, nose, 0], 99 - kps[:, nose, 0])
    # Image flip and matrix agree with the keypoint flip: the pixel under a keypoint follows it.
    image = rng.integers(0, 255, (40, 100, 3), dtype=np.uint8)
    flipped = flip_image(image)
    np.testing.assert_array_equal(flip_image(flipped), image)
    np.testing.assert_array_equal(flipped[7, 99 - 12], image[7, 12])
    np.testing.assert_array_equal(cv2.warpAffine(image, hflip_matrix(100), (100, 40)), flipped)


def test_body_halves_from_names():
    upper, lower = body_halves(get_keypoint_set("coco17"))
    assert list(upper) == list(range(11)) and list(lower) == list(range(11, 17))
    upper, lower = body_halves(get_keypoint_set("lsp14"))
    assert sorted(lower) == [0, 1, 2, 3, 4, 5] and sorted(upper) == list(range(6, 14))
    upper, lower = body_halves(get_keypoint_set("mpii16"))
    assert sorted(lower) == [0, 1, 2, 3, 4, 5, 6]  # pelvis included, as mmpose's MPII halves


def test_half_body_keeps_one_half():
    ks = get_keypoint_set("coco17")
    upper, lower = body_halves(ks)
    kps = np.zeros((17, 2))
    kps[:11] = np.stack([np.linspace(40, 60, 11), np.linspace(10, 40, 11)], -1)  # upper body up top
    kps[11:] = np.stack([np.linspace(45, 55, 6), np.linspace(60, 100, 6)], -1)
    visible = np.ones(17)
    seen = set()
    for seed in range(20):
        ids = half_body_ids(visible, upper, lower, np.random.default_rng(seed))
        assert ids is not None
        assert set(ids) in (set(upper), set(lower))
        seen.add(len(ids))
    assert seen == {11, 6}  # both halves get picked
    center, scale = half_body_center_scale(kps, lower, 0.75, padding=1.5)
    np.testing.assert_allclose(center, kps[11:].mean(0))
    np.testing.assert_allclose(scale, [40 * 1.5 * 0.75, 40 * 1.5])  # extent 10 x 40 -> height rules
    # Too few lower joints: the upper half is used; too few joints overall: no half-body.
    few_lower = visible.copy()
    few_lower[12:] = 0
    assert set(half_body_ids(few_lower, upper, lower, np.random.default_rng(0))) == set(upper)
    sparse = np.zeros(17)
    sparse[[0, 5, 11]] = 1
    assert half_body_ids(sparse, upper, lower, np.random.default_rng(0)) is None


def _standing_lsp_person() -> np.ndarray:
    """An upright LSP-14 person: shoulders at y 40, hips at y 80 (torso 40 px), 30 px wide."""
    kps = np.zeros((14, 2))
    kps[[0, 5]] = [[40, 160], [70, 160]]      # ankles
    kps[[1, 4]] = [[40, 120], [70, 120]]      # knees
    kps[[2, 3]] = [[42, 80], [68, 80]]        # hips
    kps[[6, 11]] = [[30, 90], [80, 90]]       # wrists, hanging below the hips
    kps[[7, 10]] = [[32, 65], [78, 65]]       # elbows
    kps[[8, 9]] = [[40, 40], [70, 40]]        # shoulders
    kps[[12, 13]] = [[55, 35], [55, 10]]      # neck, head top
    return kps


def test_shoulders_and_hips_from_names():
    shoulders, hips = shoulders_and_hips(get_keypoint_set("lsp14"))
    assert sorted(shoulders) == [8, 9] and sorted(hips) == [2, 3]
    shoulders, hips = shoulders_and_hips(get_keypoint_set("coco17"))
    assert sorted(shoulders) == [5, 6] and sorted(hips) == [11, 12]
    hand = KeypointSet("hand3", ("wrist", "thumb_tip", "index_tip"))
    assert shoulders_and_hips(hand) is None


def test_cut_body_crop_ends_at_the_cut():
    kps = _standing_lsp_person()
    shoulders, hips = shoulders_and_hips(get_keypoint_set("lsp14"))
    visible = np.ones(14)
    # A cut at exactly half the torso (y 60): head top, neck and shoulders stay; the box runs from the
    # head top (y 10) to the cut line (y 60), and across the shoulders' width centred on the axis.
    center, scale = cut_body_center_scale(kps, visible, shoulders, hips, np.random.default_rng(0), 1.0,
                                          cut_range=(0.5, 0.5), padding=1.0)
    np.testing.assert_allclose(center, [55, 35])
    np.testing.assert_allclose(scale, [50, 50])  # 30 x 50, widened to the square input
    # A cut at the hips keeps the elbows too; the wrists hang below and stay out.
    center, scale = cut_body_center_scale(kps, visible, shoulders, hips, np.random.default_rng(0), 1.0,
                                          cut_range=(1.0, 1.0), padding=1.0)
    np.testing.assert_allclose(center, [55, 45])
    np.testing.assert_allclose(scale, [70, 70])   # elbows x 32..78 (46 wide), head top to cut y 10..80
    # Random levels stay within the range: the crop's bottom edge is between the two cuts above.
    for seed in range(10):
        center, scale = cut_body_center_scale(kps, visible, shoulders, hips, np.random.default_rng(seed), 1.0,
                                              padding=1.0)
        bottom = center[1] + scale[1] / 2
        assert 40 + 0.2 * 40 - 1e-9 <= bottom <= 40 + 1.2 * 40 + 1e-9
    # No axis without both shoulders and both hips; too few joints above the cut.
    unlabelled_hip = visible.copy()
    unlabelled_hip[3] = 0
    assert cut_body_center_scale(kps, unlabelled_hip, shoulders, hips, np.random.default_rng(0), 1.0) is None
    headless = visible.copy()
    headless[[12, 13]] = 0
    assert cut_body_center_scale(kps, headless, shoulders, hips, np.random.default_rng(0), 1.0,
                                 cut_range=(0.1, 0.1)) is None


def test_cut_body_follows_the_body_axis():
    """A person lying along x (head on the left): the cut runs across x, not across y."""
    kps = _standing_lsp_person()[:, ::-1].copy()   # swap x and y: head top at x 10, hips at x 80
    shoulders, hips = shoulders_and_hips(get_keypoint_set("lsp14"))
    center, scale = cut_body_center_scale(kps, np.ones(14), shoulders, hips, np.random.default_rng(0), 1.0,
                                          cut_range=(0.5, 0.5), padding=1.0)
    np.testing.assert_allclose(center, [35, 55])


def test_random_scale_rotation_ranges():
    rng = np.random.default_rng(1)
    draws = np.array([random_scale_rotation(rng, (0.75, 1.25), 40.0, 0.6) for _ in range(2000)])
    assert draws[:, 0].min() >= 0.75 and draws[:, 0].max() <= 1.25
    assert np.abs(draws[:, 1]).max() <= 40.0
    assert abs((draws[:, 1] == 0).mean() - 0.4) < 0.05
    assert np.abs(truncated_normal(rng, 1000)).max() <= 1.0


def test_photometric_ops():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    out = coarse_dropout(image, np.random.default_rng(3))
    hole = np.all(out == 0, axis=2) & ~np.all(image == 0, axis=2)
    ys, xs = np.nonzero(hole)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert 0.2 * 64 - 1 <= h <= 0.4 * 64 and 0.2 * 48 - 1 <= w <= 0.4 * 48
    assert hole.sum() == h * w  # one rectangle
    assert np.array_equal(out[~hole], image[~hole])
    assert np.array_equal(random_blur(image, rng, 0.0), image)
    assert not np.array_equal(random_blur(image, np.random.default_rng(0), 1.0), image)


def test_hsv_jitter_matches_yolox_formula():
    """The lookup-table HSV jitter equals YOLOX's int16 arithmetic on the same random draws."""
    image = np.random.default_rng(0).integers(0, 255, (30, 20, 3), dtype=np.uint8)
    checked = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        gains = (rng.uniform(-1, 1, 3) * (5, 30, 30) * rng.integers(0, 2, 3)).astype(np.int16)
        out = hsv_jitter(image, np.random.default_rng(seed))
        if not gains.any():
            assert out is image
            continue
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1:] = np.clip(hsv[..., 1:] + gains[1:], 0, 255)
        assert np.array_equal(out, cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB))
        checked += 1
    assert checked > 10
    assert np.array_equal(random_blur(image, rng, 0.0), image)
    assert not np.array_equal(random_blur(image, np.random.default_rng(0), 1.0), image)
