"""Greedy body-part assignment: peak refinement, limb scoring, assembly of crossing / broken persons."""
from __future__ import annotations

import numpy as np
import pytest

from posekit.codecs import build_codec
from posekit.grouping.greedy_parts import GreedyParams, assemble, find_peaks, group_parts, score_limbs


def test_peak_centroid_refinement_and_border():
    heat = np.zeros((1, 12, 12), np.float32)
    heat[0, 5, 5], heat[0, 5, 6], heat[0, 4, 5] = 1.0, 0.5, 0.25
    heat[0, 0, 11] = 0.5            # at the border: the 5x5 box does not fit
    heat[0, 11, 0], heat[0, 11, 1] = 0.3, 0.6   # reflect padding: (11, 0) is not a peak, (11, 1) is
    heat[0, 9, 9] = 0.05            # below the threshold
    peaks = find_peaks(heat)[0]
    assert len(peaks) == 3
    by_pos = {(round(p[0]), round(p[1])): p for p in peaks}
    p = by_pos[(5, 5)]
    total = 1.75
    assert p[0] == pytest.approx(5 + 0.5 / total)       # score-weighted centroid
    assert p[1] == pytest.approx(5 - 0.25 / total)
    assert p[2] == pytest.approx(total / 25)            # published score: the box mean
    assert by_pos[(11, 0)][2] == pytest.approx(0.5)     # border peak keeps position and value
    assert by_pos[(1, 11)][2] == pytest.approx(0.6)
    np.testing.assert_array_equal(peaks[:, 3], [0, 1, 2])


def test_limb_score_mean_plus_length_penalty():
    part = np.zeros((1, 40, 40), np.float32)
    part[0, 10, 5:26] = 0.8
    peaks = [np.array([[5.0, 10.0, 0.9, 0]]), np.array([[25.0, 10.0, 0.7, 1]])]
    conn = score_limbs(peaks, part, [(0, 1)], image_height=40)[0]
    assert conn.shape == (1, 6)
    assert conn[0, 2] == pytest.approx(0.8)              # 20 samples, all 0.8; 0.5*40/20 - 1 = 0
    assert conn[0, 5] == pytest.approx(20.0)
    conn = score_limbs(peaks, part, [(0, 1)], image_height=20)[0]
    assert conn[0, 2] == pytest.approx(0.8 - 0.5)        # penalty min(0.5*20/20 - 1, 0) = -0.5
    part[0, 10, 5:12] = 0.05                             # only 14/20 samples above 0.1 < 0.8
    assert len(score_limbs(peaks, part, [(0, 1)], image_height=40)[0]) == 0


def test_greedy_matching_is_one_to_one_by_rank():
    part = np.zeros((1, 40, 60), np.float32)
    part[0, 10, 5:26] = 0.9
    part[0, 30, 5:26] = 0.6
    peaks = [np.array([[5.0, 10.0, 0.9, 0], [5.0, 30.0, 0.9, 1]]),
             np.array([[25.0, 10.0, 0.9, 2], [25.0, 30.0, 0.9, 3]])]
    conn = score_limbs(peaks, part, [(0, 1)], image_height=40)[0]
    np.testing.assert_array_equal(conn[:, :2], [[0, 2], [1, 3]])


def people() -> np.ndarray:
    base = np.array([[64, 40], [60, 36], [68, 36], [56, 38], [72, 38], [48, 60], [80, 60], [44, 90], [84, 90],
                     [42, 118], [86, 118], [54, 124], [74, 124], [52, 170], [76, 170], [50, 214], [78, 214]],
                    float)
    return np.stack([base, base + [60, 4]])


def test_two_crossing_people():
    codec = build_codec("simplepose", input_size=(256, 256))
    kps = people()
    # person 0's left arm reaches across person 1's right arm; person 1's right arm crosses back
    kps[0, 8], kps[0, 10] = (118, 80), (150, 96)     # left elbow / wrist of person 0 (image right side)
    kps[1, 7], kps[1, 9] = (92, 86), (70, 104)       # right elbow / wrist of person 1
    poses, scores = codec.group(codec.upsample(codec.encode(kps, np.ones((2, 17)))["targets"]))
    assert len(poses) == 2
    poses = poses[np.argsort(poses[:, 0, 0])]
    assert np.abs(poses[..., :2] - kps).max() < 1.5


def test_missing_limb_fragments_are_merged():
    codec = build_codec("simplepose", input_size=(256, 256))
    kps = people()[:1]
    vis = np.ones((1, 17))
    # left hip missing: the left knee-ankle limb starts its own fragment, which the redundant
    # Rhip-Lkne limb later merges into the person
    vis[0, 11] = 0
    poses, scores = codec.group(codec.upsample(codec.encode(kps, vis)["targets"]))
    assert len(poses) == 1
    found = poses[0, :, 2] > 0
    np.testing.assert_array_equal(found, vis[0] > 0)
    assert np.abs(poses[0, found, :2] - kps[0, found]).max() < 1.5


def test_assemble_drops_weak_and_tiny_persons():
    peaks = [np.array([[0.0, 0.0, 0.2, 0]]), np.array([[10.0, 0.0, 0.2, 1]])]
    weak = [np.array([[0, 1, 0.3, 0, 0, 10.0]])]
    ids, total, count = assemble(weak, peaks, [(0, 1)])
    assert len(ids) == 0                          # mean (0.2 + 0.2 + 0.3) / 2 = 0.35 < 0.45
    ids, total, count = assemble(weak, peaks, [(0, 1)], GreedyParams(min_mean_score=0.3))
    np.testing.assert_array_equal(ids, [[0, 1]])
    assert total[0] == pytest.approx(0.7) and count[0] == 2


def test_group_parts_person_score():
    heat = np.zeros((2, 30, 30), np.float32)
    heat[0, 10, 5], heat[1, 10, 25] = 1.0, 1.0
    part = np.zeros((1, 30, 30), np.float32)
    part[0, 10, 5:26] = 1.0
    poses, scores = group_parts(heat, part, [(0, 1)], GreedyParams(min_mean_score=0.0))
    # two box-mean scores + the limb score (mean 1 + length penalty 0.5 * 30 / 20 - 1)
    total = 2 * (1.0 / 25) + 0.75
    assert scores[0] == pytest.approx(1 - 1 / total)
    np.testing.assert_allclose(poses[0, :, :2], [[5, 10], [25, 10]])
