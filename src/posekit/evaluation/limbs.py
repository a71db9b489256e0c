"""PCK over the 12 limb joints that COCO-17, LSP-14, MPII and BlazePose all name: the one number that
compares models of different keypoint sets on the same photos (the peers benchmark, `posekit demo`).

The normaliser is LSP's torso, right shoulder to left hip; a person without both is left out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from posekit.evaluation.pck import pck

LIMB_JOINTS = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
               "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
LIMB_GROUPS = {"shoulder": ("left_shoulder", "right_shoulder"), "elbow": ("left_elbow", "right_elbow"),
               "wrist": ("left_wrist", "right_wrist"), "hip": ("left_hip", "right_hip"),
               "knee": ("left_knee", "right_knee"), "ankle": ("left_ankle", "right_ankle")}


def limb_index(names: Sequence[str]) -> list[int]:
    """Positions of LIMB_JOINTS in a keypoint set's names (an error naming the first one missing)."""
    missing = [n for n in LIMB_JOINTS if n not in names]
    if missing:
        raise ValueError(f"the keypoint set lacks limb joint(s) {', '.join(missing)}")
    return [list(names).index(n) for n in LIMB_JOINTS]


def person_torso(gt: np.ndarray) -> np.ndarray:
    """(N,) right shoulder to left hip of gt (N, 12, 3) in LIMB_JOINTS order; NaN where either is unlabelled."""
    gt = np.asarray(gt, dtype=np.float64)
    visible = gt[..., 2] > 0
    rs, lh = LIMB_JOINTS.index("right_shoulder"), LIMB_JOINTS.index("left_hip")
    with np.errstate(invalid="ignore"):
        return np.where(visible[:, rs] & visible[:, lh], np.linalg.norm(gt[:, rs, :2] - gt[:, lh, :2], axis=1), np.nan)


def limb_pck(pred: np.ndarray, gt: np.ndarray, alpha: float = 0.2,
             torso: np.ndarray | None = None) -> dict[str, float]:
    """pred (N, 12, >=2) and gt (N, 12, 3: x, y, v) in LIMB_JOINTS order -> PCK per group and 'total'
    (correct joints over counted joints), plus 'counted' joints. A NaN prediction counts as wrong.
    `torso` (N,) replaces the normaliser taken from gt: for photos cut above the hips, where the left hip
    is out of the picture (unscored) but the person's torso is still known."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    visible = gt[..., 2] > 0
    if torso is None:
        torso = person_torso(gt)
    result = pck(pred[..., :2], gt[..., :2], visible, torso, alpha)
    correct, count = result["correct"], result["count"]
    out = {}
    for group, joints in LIMB_GROUPS.items():
        idx = [LIMB_JOINTS.index(n) for n in joints]
        out[group] = float(correct[idx].sum() / max(1, count[idx].sum()))
    if count.sum() == 0:
        raise ValueError("limb PCK: no person has a labelled torso and limb joint to score")
    out["total"] = float(correct.sum() / count.sum())
    out["counted"] = int(count.sum())
    return out
