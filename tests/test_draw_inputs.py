"""posekit.draw and draw_poses take poses as read back from results.json or the video JSONL: flat
K*3 keypoint lists, NaN for keypoints and boxes that were not found."""
from __future__ import annotations

import json

import numpy as np
import pytest

import posekit
from posekit.keypoints import get_keypoint_set
from posekit.visualize import draw_poses

COCO = get_keypoint_set("coco17")


def _pose() -> np.ndarray:
    """coco17 with both shoulders (5, 6) at (40, 40) and (120, 40); the rest not found (score 0)."""
    pose = np.zeros((17, 3))
    pose[5], pose[6] = (40, 40, 1.0), (120, 40, 1.0)
    return pose


def _json_person(pose: np.ndarray, bbox: list[float]) -> dict:
    """A person as written to and read back from JSON (NaN kept, as json.dumps writes it)."""
    return json.loads(json.dumps({"keypoints": pose.reshape(-1).tolist(), "bbox": bbox, "score": 1.0}))


def test_flat_keypoints_draw_like_the_array():
    image = np.zeros((120, 160, 3), np.uint8)
    person = _json_person(_pose(), [0.0, 0.0, 10.0, 10.0])
    flat = posekit.draw(image, [person], keypoint_set=COCO, boxes=False)
    assert flat[40, 80].any()  # the shoulder link
    np.testing.assert_array_equal(flat, posekit.draw(image, [{"keypoints": _pose()}], keypoint_set=COCO))


def test_non_finite_points_links_and_boxes_are_skipped():
    image = np.zeros((120, 160, 3), np.uint8)
    pose = _pose()
    pose[6, 0] = np.nan  # right shoulder not found: its link goes too
    pose[0] = (np.inf, 10, 1.0)
    pose[1] = (20, 100, np.nan)
    person = _json_person(pose, [np.nan, 5.0, 30.0, 30.0])
    drawn = posekit.draw(image, [person], keypoint_set=COCO)
    assert drawn[40, 40].any() and not drawn[40, 80].any() and not drawn[100, 20].any()
    assert not drawn[5:36, 30].any()  # no box
    assert draw_poses(image, [pose], COCO, boxes=[None, [1e30, 0, 5, 5]]).shape == image.shape


def test_pose_of_the_wrong_size_is_a_clear_error():
    image = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="not 17 x 3"):
        draw_poses(image, [np.zeros(14 * 3)], COCO)
