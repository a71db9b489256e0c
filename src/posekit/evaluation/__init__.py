"""Evaluation: COCO-style OKS AP/AR through xtcocotools, CrowdPose and COCO-WholeBody protocols,
PCK/PCKh, and `score_files` behind `posekit score`."""
from posekit.evaluation.coco import (
    COCO_STAT_NAMES, CROWDPOSE_STAT_NAMES, WHOLEBODY_PART_NAMES, CocoEvaluator, evaluate_coco, evaluate_wholebody,
    flat_to_wholebody_parts,
)
from posekit.evaluation.pck import PCKEvaluator, pck, pck_by_group, torso_normaliser
from posekit.evaluation.score import infer_keypoint_set, metric_for, score_files

__all__ = [
    "COCO_STAT_NAMES", "CROWDPOSE_STAT_NAMES", "WHOLEBODY_PART_NAMES", "CocoEvaluator", "PCKEvaluator",
    "evaluate_coco", "evaluate_wholebody", "flat_to_wholebody_parts", "infer_keypoint_set",
    "metric_for", "pck", "pck_by_group", "score_files", "torso_normaliser",
]
