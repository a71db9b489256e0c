"""Score a COCO results file against a COCO ground-truth file, picking the protocol from the GT;
results of another keypoint set are scored on the joints both sets name alike."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from posekit.data.records import DataError
from posekit.evaluation.coco import (
    WHOLEBODY_NUM_KEYPOINTS, _gt_num_keypoints, _load_gt, _load_results, evaluate_coco, evaluate_wholebody,
)
from posekit.evaluation.pck import PCKEvaluator
from posekit.keypoints import (KeypointSet, available, canonical_keypoint_name, find_keypoint_set, get_keypoint_set,
                               union_mapping)

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
    names = tuple(str(n) for n in categories[0].get("keypoints") or ()) if categories else ()
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
    """The protocol `--metric auto` picks: wholebody (133 points), crowdpose, coco if the set has OKS
    sigmas, else pck."""
    if keypoint_set.num_keypoints == WHOLEBODY_NUM_KEYPOINTS:
        return "wholebody"
    if keypoint_set.name == "crowdpose14":
        return "crowdpose"
    return "coco" if keypoint_set.sigmas is not None else "pck"


def results_keypoint_set(results: list, name: str, gt_set: KeypointSet, given: str | None) -> KeypointSet:
    """The set the predictions use: `given` (checked against their counts), else the GT's set when
    every prediction has its count; otherwise an error listing the built-in sets of their count."""
    kset = get_keypoint_set(given) if given else gt_set
    for i, r in enumerate(results):
        count = len(r["keypoints"])
        if count == 3 * kset.num_keypoints or (kset.name == WHOLEBODY_SET and "foot_kpts" in r):
            continue
        where = f"{name}: prediction {i} (image_id {r['image_id']}) has {count} numbers"
        if given:
            raise DataError(f"{where}; --results-set '{kset.name}' has {kset.num_keypoints} keypoints x 3 = "
                            f"{3 * kset.num_keypoints}")
        candidates = [n for n in available() if 3 * get_keypoint_set(n).num_keypoints == count]
        hint = (f"if they are another set's, name it with --results-set ({', '.join(candidates)})" if candidates
                else "no built-in keypoint set has that count")
        raise DataError(f"{where}; the ground truth's set '{kset.name}' has {kset.num_keypoints} keypoints x 3 = "
                        f"{3 * kset.num_keypoints}; {hint}")
    return kset


def shared_joints(gt: dict, results: list, gt_set: KeypointSet, results_set: KeypointSet, results_name: str
                  ) -> tuple[dict, list, KeypointSet]:
    """GT and results cut down to the joints both sets name alike (canonical names), in the GT's order,
    and the set of those joints with the GT set's sigmas. An annotation keeps its num_keypoints unless
    none of its labelled joints is shared (then 0: CrowdPose reads it to ignore a person)."""
    if WHOLEBODY_NUM_KEYPOINTS in (gt_set.num_keypoints, results_set.num_keypoints):
        raise DataError(f"{results_name}: scoring across keypoint sets does not cover whole-body sets "
                        f"('{results_set.name}' against '{gt_set.name}')")
    mapping = sorted(union_mapping(results_set, gt_set), key=lambda pair: pair[1])
    if not mapping:
        raise DataError(f"{results_name}: keypoint set '{results_set.name}' shares no joint (by name) with the "
                        f"ground truth's '{gt_set.name}'; nothing to score")
    res_index, gt_index = (list(i) for i in zip(*mapping))
    sigmas = None if gt_set.sigmas is None else tuple(gt_set.sigmas[i] for i in gt_index)
    shared = KeypointSet(f"{gt_set.name}&{results_set.name}", tuple(gt_set.names[i] for i in gt_index), (), sigmas)
    annotations = []
    for ann in gt["annotations"]:
        points = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)[gt_index]
        ann = {**ann, "keypoints": points.reshape(-1).tolist()}
        if "num_keypoints" in ann and not (points[:, 2] > 0).any():
            ann["num_keypoints"] = 0
        annotations.append(ann)
    cut = [{**r, "keypoints": np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3)[res_index].reshape(-1)
            .tolist()} for r in results]
    return {**gt, "annotations": annotations}, cut, shared


def gt_ids_by_name(gt: dict) -> dict[str, int]:
    """GT image ids by file-name basename; a basename two images share maps to neither (ambiguous)."""
    named = [(Path(str(img["file_name"])).name, img["id"]) for img in gt["images"] if img.get("file_name")]
    counts = Counter(name for name, _ in named)
    return {name: image_id for name, image_id in named if counts[name] == 1}


def ids_by_file_name(gt: dict, results: list, results_name: str, gt_name: str) -> tuple[list, int]:
    """Results with the GT's image ids, and how many were re-numbered by file name.

    `posekit predict` without --images-json numbers images by their position in the folder and keeps
    each row's file_name: when those ids are not the GT's (unknown, or naming another file) and every
    row's file_name is a GT image's, the names decide. Otherwise an unknown id is an error that says how
    to get the GT's ids."""
    by_name = gt_ids_by_name(gt)
    names = [Path(str(r["file_name"])).name if r.get("file_name") else None for r in results]
    if results and all(n in by_name for n in names):
        moved = sum(r["image_id"] != by_name[n] for r, n in zip(results, names))
        return [{**r, "image_id": by_name[n]} for r, n in zip(results, names)], moved
    gt_ids = {img["id"] for img in gt["images"]}
    unknown = sorted({r["image_id"] for r in results} - gt_ids)
    if unknown:
        named = [n for n in names if n is not None]
        stray = next((n for n in named if n not in by_name), None)
        names_too = f"; nor are all their file_names the ground truth's (e.g. {stray})" if stray else ""
        raise DataError(f"{results_name}: {len(unknown)} prediction image_id(s) not in the ground truth, e.g. "
                        f"{unknown[:5]}{names_too}; if it is `posekit predict` output, re-run that with "
                        f"--images-json {gt_name} so its ids are the ground truth's")
    return results, 0


def score_files(gt_path: str | Path, results_path: str | Path, keypoint_set: str | KeypointSet | None = None,
                metric: str = "auto", verbose: bool = False, results_set: str | None = None) -> dict:
    """Evaluate a COCO results file against a COCO GT file.

    metric "auto" follows the keypoint set: COCO-17 (and other sets with sigmas) -> OKS AP/AR,
    CrowdPose-14 -> CrowdPose AP with easy/medium/hard, COCO-WholeBody -> AP/AR per part,
    sets without sigmas (LSP-14) -> PCK@0.2 of the torso, one person per image (the top-scoring
    prediction per image_id). results_set names the predictions' set when it is not the GT's; they
    are then scored on the joints both sets share by name (OKS with the GT set's sigmas of those).
    Predictions whose image_ids are not the GT's but whose file_names all are (`posekit predict` without
    --images-json numbers files by position) are matched by file name.
    Returns {gt, results, keypoint_set, results_set, joints (the scored joints' names), metric, stats,
    matched_by_file_name (how many predictions were), labelled_images (GT images with a person whose
    keypoints are labelled), covered_images (how many of those the results predict on: the persons of the
    others count as missed, so an AP of results for part of a set reads low)}; a statistic that cannot be
    defined (no GT person in its range or group) is None."""
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
    rset = results_keypoint_set(results, results_name, kset, results_set)
    results, by_name = ids_by_file_name(gt, results, results_name, str(gt_path))
    scored = kset
    if rset.name != kset.name:
        gt, results, scored = shared_joints(gt, results, kset, rset, results_name)
    names = {"gt_name": gt_name, "results_name": results_name}
    if metric == "wholebody":
        stats = evaluate_wholebody(gt, results, scored.sigmas_array, verbose=verbose, **names)
    elif metric == "crowdpose":
        stats = evaluate_coco(gt, results, scored.sigmas_array, "keypoints_crowd", use_area=False, verbose=verbose,
                              **names)
    elif metric == "coco":
        stats = evaluate_coco(gt, results, scored.sigmas_array, "keypoints", use_area=True, verbose=verbose,
                              **names)
    else:
        evaluator = PCKEvaluator(gt, scored, alpha=0.2, name=gt_name)
        stats = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in evaluator.evaluate(results, source=results_name).items()}
    labelled = {a["image_id"] for a in gt.get("annotations", [])
                if not a.get("iscrowd", 0) and any(v > 0 for v in (a.get("keypoints") or [])[2::3])}
    covered = labelled & {r["image_id"] for r in results}
    return {"gt": str(gt_path), "results": str(results_path), "keypoint_set": kset.name, "results_set": rset.name,
            "joints": list(scored.names), "metric": metric, "stats": stats, "matched_by_file_name": by_name,
            "labelled_images": len(labelled), "covered_images": len(covered)}
