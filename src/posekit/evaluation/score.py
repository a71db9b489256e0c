"""Score a COCO results file against a COCO ground-truth file, picking the protocol from the GT."""
from __future__ import annotations

from pathlib import Path

from posekit.data.records import DataError
from posekit.evaluation.coco import (
    WHOLEBODY_NUM_KEYPOINTS, _gt_num_keypoints, _load_gt, _load_results, evaluate_coco, evaluate_wholebody,
)
from posekit.evaluation.pck import PCKEvaluator
from posekit.keypoints import KeypointSet, canonical_keypoint_name, find_keypoint_set, get_keypoint_set

METRICS = ("coco", "crowdpose", "wholebody", "pck")
WHOLEBODY_SET = "coco_wholebody133"


def infer_keypoint_set(gt: dict, name: str = "ground truth") -> KeypointSet:
    """The keypoint set a COCO GT uses: whole-body part fields -> COCO-WholeBody; otherwise the
    built-in set whose names equal the category's keypoint names, else by count (17 -> COCO,
    14 with CrowdPose's order or crowdIndex -> CrowdPose)."""
    annotations = gt["annotations"]
    if any("foot_kpts" in a for a in annotations):
        return get_keypoint_set(WHOLEBODY_SET)
    k = _gt_num_keypoints(gt, name)
    categories = gt.get("categories") or []
    names = tuple(str(n) for n in categories[0].get("keypoints", ())) if categories else ()
    canonical = tuple(canonical_keypoint_name(n) for n in names)
    named = find_keypoint_set(names)
    if named is not None:
        return named
    if k == 17:
        return get_keypoint_set("coco17")
    if k == 14:
        crowd = get_keypoint_set("crowdpose14")
        if canonical[:12] == crowd.names[:12] or any("crowdIndex" in img for img in gt["images"]):
            return crowd
    if k == WHOLEBODY_NUM_KEYPOINTS:
        return get_keypoint_set(WHOLEBODY_SET)
    raise DataError(f"{name}: cannot tell which keypoint set its {k} keypoints "
                    f"({', '.join(names) or 'unnamed'}) are; pass --keypoint-set NAME")


def metric_for(keypoint_set: KeypointSet) -> str:
    if keypoint_set.num_keypoints == WHOLEBODY_NUM_KEYPOINTS:
        return "wholebody"
    if keypoint_set.name == "crowdpose14":
        return "crowdpose"
    return "coco" if keypoint_set.sigmas is not None else "pck"


def score_files(gt_path: str | Path, results_path: str | Path, keypoint_set: str | KeypointSet | None = None,
                metric: str = "auto", verbose: bool = False) -> dict:
    """Evaluate a COCO results file against a COCO GT file.

    metric "auto" follows the keypoint set: COCO-17 (and other sets with sigmas) -> OKS AP/AR,
    CrowdPose-14 -> CrowdPose AP with easy/medium/hard, COCO-WholeBody -> AP/AR per part,
    sets without sigmas (LSP-14) -> PCK@0.2 of the torso, one person per image (the top-scoring
    prediction per image_id). Returns {gt, results, keypoint_set, metric, stats}."""
    if metric != "auto" and metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; choose auto or one of {', '.join(METRICS)}")
    gt, gt_name = _load_gt(gt_path)
    results, results_name = _load_results(results_path)
    kset = get_keypoint_set(keypoint_set) if keypoint_set is not None else infer_keypoint_set(gt, gt_name)
    metric = metric_for(kset) if metric == "auto" else metric
    if metric != "wholebody":
        k = _gt_num_keypoints(gt, gt_name)
        if k != kset.num_keypoints:
            raise DataError(f"{gt_name}: annotations have {k} keypoints; keypoint set '{kset.name}' has "
                            f"{kset.num_keypoints}")
    names = {"gt_name": gt_name, "results_name": results_name}
    if metric == "wholebody":
        stats = evaluate_wholebody(gt, results, kset.sigmas_array, verbose=verbose, **names)
    elif metric == "crowdpose":
        stats = evaluate_coco(gt, results, kset.sigmas_array, "keypoints_crowd", use_area=False, verbose=verbose,
                              **names)
    elif metric == "coco":
        stats = evaluate_coco(gt, results, kset.sigmas_array, "keypoints", use_area=True, verbose=verbose, **names)
    else:
        stats = PCKEvaluator(gt, kset, alpha=0.2, name=gt_name).evaluate(results, source=results_name)
    return {"gt": str(gt_path), "results": str(results_path), "keypoint_set": kset.name,
            "metric": metric, "stats": stats}
