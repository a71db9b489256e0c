"""benchmarks/upper_body_lsp.py cuts each photo just below the hips: the crop keeps the image's top-left
corner (coordinates unchanged), ends a fifth of the torso below the lower hip, and unlabels the legs."""
from __future__ import annotations

import cv2
import numpy as np

from conftest import load_benchmark


def test_waist_up_crop(tmp_path):
    bench = load_benchmark("upper_body_lsp")
    limbs = bench.LIMBS
    photo = tmp_path / "person.png"
    cv2.imwrite(str(photo), np.zeros((200, 100, 3), np.uint8))
    person = np.zeros((len(limbs), 3))
    person[:, 2] = 2
    for i, name in enumerate(limbs):  # shoulders at y 40, hips at y 100 and 104, legs further down
        person[i, 0] = 30 + 40 * name.startswith("left")
        person[i, 1] = {"shoulder": 40, "elbow": 70, "wrist": 95, "hip": 100, "knee": 140, "ankle": 180}[
            name.split("_")[1]] + 4 * (name == "left_hip")
    no_torso = person.copy()
    no_torso[limbs.index("left_hip"), 2] = 0
    crops, gt = bench.waist_up([str(photo), str(photo)], np.stack([person, no_torso]), tmp_path)
    assert len(crops) == 1 and gt.shape == (1, len(limbs), 3)  # the person without a left hip is left out
    torso = np.hypot(40, 64)  # right shoulder (30, 40) to left hip (70, 104)
    assert cv2.imread(crops[0]).shape == (int(np.ceil(104 + 0.2 * torso)), 100, 3)
    legs = [i for i, name in enumerate(limbs) if name.endswith(("knee", "ankle"))]
    assert (gt[0, legs, 2] == 0).all() and (gt[0, :, :2] == person[:, :2]).all()
    assert (np.delete(gt[0, :, 2], legs) == 2).all()
