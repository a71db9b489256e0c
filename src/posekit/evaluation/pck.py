"""PCK: the fraction of keypoints within alpha x a per-person length of the ground truth.

LSP: PCK@0.2 of the torso (right shoulder -> left hip). MPII: PCKh@0.5, with normaliser lengths
0.6 x the head-box diagonal (posekit.data.readers.mpii.read_mpii_head_sizes). Reported per joint
group; group membership comes from keypoint names, so any set with those names works."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from posekit.data.records import DataError, ImageRecord, PoseData
from posekit.keypoints import KeypointSet, canonical_keypoint_name

# Canonical names (keypoints.canonical_keypoint_name) across LSP, MPII, CrowdPose and COCO that
# belong to each reported group.
JOINT_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("head", ("head_top", "head", "neck", "upper_neck")),
    ("shoulder", ("left_shoulder", "right_shoulder")),
    ("elbow", ("left_elbow", "right_elbow")),
    ("wrist", ("left_wrist", "right_wrist")),
    ("hip", ("left_hip", "right_hip")),
    ("knee", ("left_knee", "right_knee")),
    ("ankle", ("left_ankle", "right_ankle")),
)
def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, normaliser: np.ndarray,
        alpha: float = 0.2) -> dict[str, np.ndarray | float]:
    """pred, gt (N, K, 2); visible (N, K) (which GT joints count); normaliser (N,) lengths.

    A joint is correct when |pred - gt| <= alpha * normaliser (the MPII evaluation's `<=`).
    Persons with a non-positive or non-finite normaliser are left out; a NaN prediction counts
    as wrong. Returns per_joint (K,) accuracy (NaN where a joint never counts), correct (K,),
    count (K,), and mean: all correct joints over all counted joints."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    visible = np.asarray(visible).astype(bool)
    normaliser = np.asarray(normaliser, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f"pck: pred and gt must both be (N, K, 2), got {pred.shape} and {gt.shape}")
    if visible.shape != gt.shape[:2] or normaliser.shape != gt.shape[:1]:
        raise ValueError(f"pck: visible must be {gt.shape[:2]} and normaliser {gt.shape[:1]}, "
                         f"got {visible.shape} and {normaliser.shape}")
    valid_person = np.isfinite(normaliser) & (normaliser > 0)
    counted = visible & valid_person[:, None]
    distance = np.linalg.norm(pred - gt, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        hit = distance <= alpha * normaliser[:, None]  # NaN compares False: a missing prediction is wrong
    correct = (hit & counted).sum(axis=0)
    count = counted.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(count > 0, correct / np.maximum(count, 1), np.nan)
    total = count.sum()
    return {"per_joint": per_joint, "correct": correct, "count": count,
            "mean": float(correct.sum() / total) if total else float("nan")}


def group_joints(names: Sequence[str]) -> list[int]:
    """Positions of the joints the per-group totals count (JOINT_GROUPS), in group order."""
    canonical = [canonical_keypoint_name(n) for n in names]
    return [i for _, group in JOINT_GROUPS for i, n in enumerate(canonical) if n in group]


def limb_joints(names: Sequence[str]) -> list[int] | None:
    """Positions of the 12 limb joints (evaluation.limbs.LIMB_JOINTS), None when the set lacks one."""
    from posekit.evaluation.limbs import LIMB_JOINTS  # limbs imports this module
    canonical = [canonical_keypoint_name(n) for n in names]
    return [canonical.index(n) for n in LIMB_JOINTS] if set(LIMB_JOINTS) <= set(canonical) else None


def pck_by_group(result: Mapping[str, np.ndarray | float], keypoint_set: KeypointSet) -> dict[str, float]:
    """Group accuracies (head, shoulder, elbow, wrist, hip, knee, ankle) and total, each the
    correct joints over the counted joints in the group; total spans all grouped joints (so MPII's
    pelvis and thorax are left out, as in its protocol). Groups whose names the set lacks are absent.
    'limbs' is the total over the 12 limb joints alone, where the set has them: the number posekit's
    docs and benchmarks quote for LSP (its total also counts the neck and head top)."""
    correct = np.asarray(result["correct"])
    count = np.asarray(result["count"])
    out: dict[str, float] = {}
    canonical = [canonical_keypoint_name(n) for n in keypoint_set.names]
    for group, names in JOINT_GROUPS:
        idx = [i for i, n in enumerate(canonical) if n in names]
        if idx:
            out[group] = _share(correct, count, idx)
    grouped = group_joints(keypoint_set.names)
    out["total"] = _share(correct, count, grouped) if grouped else float(result["mean"])
    limbs = limb_joints(keypoint_set.names)
    if limbs is not None:
        out["limbs"] = _share(correct, count, limbs)
    return out


def _share(correct: np.ndarray, count: np.ndarray, idx: list[int]) -> float:
    n = count[idx].sum()
    return float(correct[idx].sum() / n) if n else float("nan")


def torso_normaliser(gt: np.ndarray, visible: np.ndarray, keypoint_set: KeypointSet) -> np.ndarray:
    """Per-person torso length, right shoulder -> left hip (the LSP convention); 0 (person left
    out) where either joint is unlabelled. gt (N, K, 2), visible (N, K)."""
    rs, lh = keypoint_set.index("right_shoulder"), keypoint_set.index("left_hip")
    gt = np.asarray(gt, dtype=np.float64)
    visible = np.asarray(visible).astype(bool)
    length = np.linalg.norm(gt[:, rs] - gt[:, lh], axis=1)
    return np.where(visible[:, rs] & visible[:, lh], length, 0.0)


def _gt_from_coco(gt: dict, keypoint_set: KeypointSet, name: str) -> dict[int, np.ndarray]:
    k = keypoint_set.num_keypoints
    if not isinstance(gt, dict) or not isinstance(gt.get("images"), list) \
            or not isinstance(gt.get("annotations"), list):
        raise DataError(f"{name}: not a COCO annotation file (need 'images' and 'annotations' lists)")
    people: dict[int, np.ndarray] = {}
    for ann in gt["annotations"]:
        if ann.get("iscrowd") or "keypoints" not in ann:
            continue
        kpts = np.asarray(ann["keypoints"], dtype=np.float64)
        if kpts.size != k * 3:
            raise DataError(f"{name}: annotation {ann.get('id')} has {kpts.size // 3} keypoints; "
                            f"keypoint set '{keypoint_set.name}' has {k}")
        image_id = ann["image_id"]
        if image_id in people:
            raise DataError(f"{name}: image {image_id} has more than one annotated person; "
                            "PCK here matches one prediction to one person per image")
        people[image_id] = kpts.reshape(k, 3)
    return people


def _gt_from_records(records: Sequence[ImageRecord], keypoint_set: KeypointSet, name: str) -> dict[int, np.ndarray]:
    people: dict[int, np.ndarray] = {}
    for rec in records:
        persons = [p for p in rec.persons if not p.iscrowd]
        if len(persons) > 1:
            raise DataError(f"{name}: image {rec.image_id} has {len(persons)} persons; "
                            "PCK here matches one prediction to one person per image")
        if persons:
            kpts = np.asarray(persons[0].keypoints, dtype=np.float64)
            if kpts.shape != (keypoint_set.num_keypoints, 3):
                raise DataError(f"{name}: image {rec.image_id} keypoints {kpts.shape}; "
                                f"keypoint set '{keypoint_set.name}' needs ({keypoint_set.num_keypoints}, 3)")
            people[rec.image_id] = kpts
    return people


class PCKEvaluator:
    """In-memory PCK for the training loop, one person per image.

    gt: a COCO-format dict, a PoseData, or a list of ImageRecord. normaliser: "torso" (right
    shoulder -> left hip, LSP) or a mapping image_id -> length (e.g. MPII head sizes from
    read_mpii_head_sizes, with alpha=0.5 for PCKh@0.5). The top-scoring prediction per image is used; an image with no
    prediction counts all its joints as wrong."""

    def __init__(self, gt: dict | PoseData | Sequence[ImageRecord], keypoint_set: KeypointSet,
                 alpha: float = 0.2, normaliser: str | Mapping[int, float] = "torso",
                 name: str = "ground truth") -> None:
        self.keypoint_set = keypoint_set
        self.alpha = alpha
        self.name = name
        if isinstance(gt, dict):
            people = _gt_from_coco(gt, keypoint_set, name)
        else:
            people = _gt_from_records(gt.records if isinstance(gt, PoseData) else gt, keypoint_set, name)
        if not people:
            raise DataError(f"{name}: nothing to evaluate: no non-crowd person with keypoints to evaluate PCK on")
        self.image_ids = list(people)
        self.gt = np.stack([people[i] for i in self.image_ids])
        if normaliser == "torso":
            if not {"right_shoulder", "left_hip"} <= set(keypoint_set.names):
                raise DataError(f"{name}: PCK normalises by the torso (right_shoulder -> left_hip), which keypoint "
                                f"set '{keypoint_set.name}' lacks")
            self.normaliser = torso_normaliser(self.gt[..., :2], self.gt[..., 2] > 0, keypoint_set)
            if not (self.normaliser > 0).any():
                raise DataError(f"{name}: nothing to evaluate: no person has a labelled torso (right_shoulder and "
                                "left_hip, the PCK normaliser)")
        elif isinstance(normaliser, Mapping):
            missing = [i for i in self.image_ids if i not in normaliser]
            if missing:
                raise ValueError(f"{name}: no normaliser length for image(s) {missing[:5]}")
            self.normaliser = np.array([float(normaliser[i]) for i in self.image_ids])
        else:
            raise ValueError(f"normaliser must be 'torso' or a mapping image_id -> length, got {normaliser!r}")

    @property
    def default_metric(self) -> str:
        """The key of the headline metric, e.g. 'PCK@0.2'."""
        return f"PCK@{self.alpha:g}"

    def evaluate(self, predictions: Sequence[dict], source: str = "predictions") -> dict[str, float]:
        """source names the predictions in error messages (e.g. the results file)."""
        k = self.keypoint_set.num_keypoints
        best: dict[int, tuple[float, np.ndarray]] = {}
        known = set(self.image_ids)
        for i, p in enumerate(predictions):
            kpts = np.asarray(p["keypoints"], dtype=np.float64)
            if kpts.size != k * 3:
                raise DataError(f"{source}: prediction {i} (image_id {p['image_id']}) has {kpts.size} numbers; "
                                f"expected {k} keypoints x 3 = {k * 3}")
            if p["image_id"] not in known:
                raise DataError(f"{source}: prediction {i} image_id {p['image_id']} is not in the {self.name}")
            score = float(p.get("score", 0.0))
            if p["image_id"] not in best or score > best[p["image_id"]][0]:
                best[p["image_id"]] = (score, kpts.reshape(k, 3))
        pred = np.full((len(self.image_ids), k, 2), np.nan)
        for row, image_id in enumerate(self.image_ids):
            if image_id in best:
                pred[row] = best[image_id][1][:, :2]
        result = pck(pred, self.gt[..., :2], self.gt[..., 2] > 0, self.normaliser, self.alpha)
        groups = pck_by_group(result, self.keypoint_set)
        return {self.default_metric: groups["total"], **groups,
                "images": float(len(self.image_ids)), "predicted_images": float(len(best))}
