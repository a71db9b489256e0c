"""benchmarks/upper_body_lsp.py cuts each photo just below the hips (or across the chest): the crop keeps the
image's top-left corner (coordinates unchanged), ends a fifth of the torso below the lower hip (0.4 below the
lower shoulder), and unlabels the joints not scored."""
from __future__ import annotations

import cv2
import numpy as np

from conftest import load_benchmark


def _standing(limbs, tmp_path, heights: dict[str, float], lower: str):
    """A blank 100 x 200 photo and an upright person: right joints at x 30, left at x 70, each group at
    its height, the left `lower` joint 4 px lower than the right."""
    photo = tmp_path / "person.png"
    cv2.imwrite(str(photo), np.zeros((200, 100, 3), np.uint8))
    person = np.zeros((len(limbs), 3))
    person[:, 2] = 2
    for i, name in enumerate(limbs):
        person[i, 0] = 30 + 40 * name.startswith("left")
        person[i, 1] = heights[name.split("_")[1]] + 4 * (name == f"left_{lower}")
    return photo, person


def test_waist_up_crop(tmp_path):
    bench = load_benchmark("upper_body_lsp")
    limbs = bench.LIMBS
    # shoulders at y 40, hips at y 100 and 104, legs further down
    photo, person = _standing(limbs, tmp_path, {"shoulder": 40, "elbow": 70, "wrist": 95, "hip": 100, "knee": 140,
                                                "ankle": 180}, "hip")
    no_torso = person.copy()
    no_torso[limbs.index("left_hip"), 2] = 0
    crops, gt, torso_given = bench.cut_photos([str(photo), str(photo)], np.stack([person, no_torso]), tmp_path)
    assert len(crops) == 1 and gt.shape == (1, len(limbs), 3)  # the person without a left hip is left out
    torso = np.hypot(40, 64)  # right shoulder (30, 40) to left hip (70, 104)
    np.testing.assert_allclose(torso_given, [torso])
    assert cv2.imread(crops[0]).shape == (int(np.ceil(104 + 0.2 * torso)), 100, 3)
    legs = [i for i, name in enumerate(limbs) if name.endswith(("knee", "ankle"))]
    assert (gt[0, legs, 2] == 0).all() and (gt[0, :, :2] == person[:, :2]).all()
    assert (np.delete(gt[0, :, 2], legs) == 2).all()


def test_chest_up_crop(tmp_path):
    bench = load_benchmark("upper_body_lsp")
    limbs = bench.LIMBS
    # shoulders at y 40 and 44, one wrist raised to y 30; the cut at y 73
    photo, person = _standing(limbs, tmp_path, {"shoulder": 40, "elbow": 80, "wrist": 95, "hip": 100, "knee": 140,
                                                "ankle": 180}, "shoulder")
    person[limbs.index("right_wrist"), 1] = 30
    crops, gt, torso = bench.cut_photos([str(photo)], person[None], tmp_path, "chest")
    np.testing.assert_allclose(torso, [np.hypot(40, 60)])  # right shoulder (30, 40) to left hip (70, 100)
    bottom = int(np.ceil(44 + 0.4 * torso[0]))
    assert cv2.imread(crops[0]).shape == (bottom, 100, 3)
    scored = {limbs[i] for i in np.flatnonzero(gt[0, :, 2] > 0)}
    assert scored == {"right_shoulder", "left_shoulder", "right_wrist"}  # the rest is cut off or unscored


def test_portrait_crop(tmp_path):
    bench = load_benchmark("upper_body_lsp")
    limbs = bench.LIMBS
    # shoulders at (30, 80) and (70, 84), hips at y 140: torso = |(30, 80) - (70, 140)|
    heights = {"shoulder": 80, "elbow": 110, "wrist": 130, "hip": 140, "knee": 170, "ankle": 195}
    photo, person = _standing(limbs, tmp_path, heights, "shoulder")
    lying = person.copy()
    lying[:, 1] = 80  # everything at one height: the torso is horizontal, no portrait
    crops, gt, torso = bench.cut_photos([str(photo), str(photo)], np.stack([person, lying]), tmp_path, "portrait")
    assert len(crops) == 1
    t = np.hypot(40, 60)
    np.testing.assert_allclose(torso, [t])
    # 0.75 torso above the higher shoulder, 0.15 below the lower; 0.9 shoulder widths (40 px) either side
    # of x 50, clipped to the 100 px wide photo
    top, bottom = int(np.floor(80 - 0.75 * t)), int(np.ceil(84 + 0.15 * t))
    left, right = int(np.floor(50 - 36)), int(np.ceil(50 + 36))
    assert cv2.imread(crops[0]).shape == (bottom - top, right - left, 3)
    scored = {limbs[i] for i in np.flatnonzero(gt[0, :, 2] > 0)}
    assert scored == {"right_shoulder", "left_shoulder"}
    np.testing.assert_allclose(gt[0, limbs.index("left_shoulder"), :2], [70 - left, 84 - top])
