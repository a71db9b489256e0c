"""Associative-embedding targets on hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest

from posekit.codecs import build_codec


def _codec(**kw):
    return build_codec("associative_embedding", input_size=(64, 48), num_keypoints=3, **kw)


def test_gaussians_at_both_resolutions_sigma_two_output_pixels() -> None:
    codec = _codec()
    keypoints = np.array([[[10.0, 22.0], [63.0, 47.0], [5.0, 5.0]]])
    out = codec.encode(keypoints, np.array([[1, 1, 0]]))
    assert codec.output_sizes == [(16, 12), (32, 24)]
    h0, h1 = out["heatmaps_0"], out["heatmaps_1"]
    assert h0.shape == (3, 12, 16) and h1.shape == (3, 24, 32)
    # (10, 22) / 4 -> (2.5, 5.5), truncated to pixel (2, 5); / 2 -> (5, 11).
    assert h0[0, 5, 2] == 1.0 and h1[0, 11, 5] == 1.0
    assert h0[0, 5, 3] == pytest.approx(np.exp(-1 / 8))         # sigma 2 in output pixels
    assert h0[0, 6, 3] == pytest.approx(np.exp(-2 / 8))
    assert h1[0, 11, 12] == pytest.approx(np.exp(-49 / 8))       # 6σ+3 = 15 wide patch: ±7 ...
    assert h1[0, 11, 13] == 0.0                                  # ... and nothing beyond
    assert h0[1, 11, 15] == 1.0                                  # last pixel is still inside
    assert not h0[2].any() and not h1[2].any()                   # invisible joint: no target


def test_overlapping_people_combine_with_max() -> None:
    codec = _codec()
    keypoints = np.array([[[8.0, 8.0]] * 3, [[16.0, 8.0]] * 3])
    h0 = codec.encode(keypoints, np.ones((2, 3)))["heatmaps_0"]
    # Pixels (2, 2) and (4, 2): their midpoint (3, 2) is 1 px from both, max not sum.
    assert h0[0, 2, 3] == pytest.approx(np.exp(-1 / 8))
    assert h0[0, 2, 2] == 1.0 and h0[0, 2, 4] == 1.0


def test_joint_indices_packed_per_person_at_quarter_resolution() -> None:
    codec = _codec(max_people=2)
    keypoints = np.array([[[10.0, 22.0], [200.0, 5.0], [4.0, 40.0]],
                          [[0.0, 0.0], [8.0, 4.0], [9.0, 9.0]],
                          [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])
    visible = np.array([[1, 1, 1], [0, 1, 1], [1, 1, 1]])
    joints = codec.encode(keypoints, visible)["joints"]
    w, h = 16, 12
    assert joints.shape == (2, 3, 2) and joints.dtype == np.int64      # the third person is beyond max_people
    # person 0: joint 1 is outside the image, so joint 2 moves up to slot 1
    assert joints[0].tolist() == [[0 * h * w + 5 * w + 2, 1], [2 * h * w + 10 * w + 1, 1], [0, 0]]
    assert joints[1].tolist() == [[1 * h * w + 1 * w + 2, 1], [2 * h * w + 2 * w + 2, 1], [0, 0]]


def test_ideal_outputs_carry_person_index_tags_where_the_person_wins() -> None:
    codec = _codec()
    keypoints = np.array([[[8.0, 8.0]] * 3, [[40.0, 8.0]] * 3])
    quarter, half = codec.ideal_outputs(keypoints, np.ones((2, 3)))
    assert quarter.shape == (1, 6, 12, 16) and half.shape == (1, 3, 24, 32)
    tags = quarter[0, 3:].numpy()
    assert tags[0, 2, 2] == 1 and tags[0, 2, 10] == 2 and tags[0, 11, 15] == 0


def test_bad_shapes_name_the_codec() -> None:
    with pytest.raises(ValueError, match="associative_embedding"):
        _codec().encode(np.zeros((2, 4, 2)), np.ones((2, 4)))
