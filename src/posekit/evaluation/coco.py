"""COCO-style OKS AP/AR through xtcocotools (never re-implemented here): COCO keypoints, CrowdPose
(AP easy/medium/hard) and COCO-WholeBody per part."""
from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

from posekit.data.readers.coco_checks import (PART_FIELDS, check_bbox, check_coco_gt, check_id, is_number, numbers,
                                              show)
from posekit.data.readers.common import load_json
from posekit.data.records import DataError
from posekit.data.transforms.preprocess import coco_results
from posekit.keypoints import WHOLEBODY_PARTS, KeypointSet

# Order of COCOeval.stats for 'keypoints*' iou types (see COCOeval.summarize).
COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
# For 'keypoints_crowd', xtcocotools prints AP, AP50, AP75, AR, AR50, AR75, then AP easy/medium/hard.
CROWDPOSE_STAT_NAMES = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP(E)", "AP(M)", "AP(H)")

# COCO-WholeBody parts, in the order of keypoints.WHOLEBODY_PARTS (JSON field, size); each is
# scored with xtcocotools' iou type 'keypoints_<part>'.
WHOLEBODY_PART_NAMES = ("body", "foot", "face", "lefthand", "righthand")
WHOLEBODY_NUM_KEYPOINTS = sum(num for _, num in WHOLEBODY_PARTS)
# The ground-truth fields xtcocotools reads for keypoint evaluation.
_GT_FIELDS = ("id", "image_id", "category_id", "iscrowd", "bbox", "area", "num_keypoints", "keypoints",
              *(field for field, _ in WHOLEBODY_PARTS[1:]))


def _load_gt(gt: dict | str | Path, name: str | None = None) -> tuple[dict, str]:
    if isinstance(gt, dict):
        data, name = gt, name or "ground truth"
    else:
        data, name = load_json(gt, "ground-truth"), str(gt)
    check_coco_gt(data, name, reader=False)
    return data, name


def _load_results(results: list | str | Path, name: str | None = None) -> tuple[list, str]:
    """A results list whose entries have the right types: ids, a finite score, a flat list of finite
    keypoint numbers (their count is checked against the keypoint set later)."""
    if isinstance(results, (str, Path)):
        data, name = load_json(results, "results"), str(results)
    else:
        data, name = results, name or "results"
    if not isinstance(data, list):
        raise DataError(f"{name}: a COCO results file must be a JSON list of predictions, got {type(data).__name__}")
    for i, r in enumerate(data):
        if not isinstance(r, dict):
            raise DataError(f"{name}: prediction {i} is not an object: {show(r)}")
        missing = [k for k in ("image_id", "keypoints", "score") if k not in r]
        if missing:
            raise DataError(f"{name}: prediction {i} needs keys image_id, keypoints, score (missing {missing})")
        where = f"prediction {i}"
        check_id(name, where, r, "image_id")
        where = f"prediction {i} (image_id {r['image_id']})"
        if "category_id" in r:
            check_id(name, where, r, "category_id")
        if not is_number(r["score"]):
            raise DataError(f"{name}: {where}: 'score' must be a finite number, got {show(r['score'])}")
        for key in ("keypoints", *PART_FIELDS):
            if key in r:
                numbers(name, where, key, r[key], "a flat list of finite numbers x1, y1, s1, ...")
        if "bbox" in r:
            check_bbox(name, where, r["bbox"])
    return data, name


def _check_results(gt: dict, results: list, name: str, fields: dict[str, int]) -> None:
    """Image and category ids must be in the GT and each keypoint field must hold `num * 3` numbers."""
    gt_ids = {img["id"] for img in gt["images"]}
    unknown = sorted({r["image_id"] for r in results} - gt_ids)
    if unknown:
        raise DataError(f"{name}: {len(unknown)} prediction image_id(s) not in the ground truth, "
                        f"e.g. {unknown[:5]}")
    category_ids = {c["id"] for c in gt.get("categories") or []}
    for i, r in enumerate(results):
        if "category_id" not in r:
            raise DataError(f"{name}: prediction {i} (image_id {r['image_id']}) has no 'category_id'")
        if r["category_id"] not in category_ids:
            raise DataError(f"{name}: prediction {i} (image_id {r['image_id']}): 'category_id' {r['category_id']} "
                            f"is not a category of the ground truth ({sorted(category_ids)[:5]})")
        for key, num in fields.items():
            value = r.get(key)
            if value is None or len(value) != num * 3:
                got = "missing" if value is None else f"{len(value)} numbers"
                raise DataError(f"{name}: prediction {i} (image_id {r['image_id']}) field '{key}' is {got}; "
                                f"expected {num} keypoints x 3 = {num * 3} numbers")
    if any("bbox" in r for r in results) and not all("bbox" in r for r in results):
        # xtcocotools takes the predictions' areas from 'bbox' if the first has one, and fails on the rest.
        raise DataError(f"{name}: some predictions have a 'bbox' and some do not; give all or none")


def _gt_num_keypoints(gt: dict, name: str) -> int:
    counts = {len(ann["keypoints"]) // 3 for ann in gt["annotations"] if ann.get("keypoints") is not None}
    if not counts:
        raise DataError(f"{name}: no annotation has 'keypoints'")
    if len(counts) > 1:
        first = len(gt["annotations"][0]["keypoints"]) // 3
        other = next(a for a in gt["annotations"] if len(a["keypoints"]) // 3 != first)
        raise DataError(f"{name}: annotation id {other['id']}: 'keypoints' has {len(other['keypoints']) // 3} "
                        f"keypoints where others have {first}")
    return counts.pop()


def _check_evaluable(gt: dict, name: str, fields: Sequence[str] = ("keypoints",)) -> None:
    """An evaluation with nothing to evaluate is an error that says why (xtcocotools would print -1)."""
    if not gt.get("categories"):
        raise DataError(f"{name}: 'categories' is empty or missing; COCO evaluation scores each category")
    crowd = sum(bool(a.get("iscrowd")) for a in gt["annotations"])
    people = [a for a in gt["annotations"] if not a.get("iscrowd")]
    labelled = [a for a in people if any(np.asarray(a[f], dtype=np.float64)[2::3].max(initial=0) > 0
                                         for f in fields if a.get(f))]
    if not labelled:
        raise DataError(f"{name}: nothing to evaluate: no annotation is a non-crowd person with labelled keypoints "
                        f"({len(gt['annotations'])} annotations, {crowd} crowd regions, "
                        f"{len(people)} persons without labelled keypoints)")


def _defined(names: Sequence[str], stats: np.ndarray, gt_name: str) -> dict[str, float | None]:
    """xtcocotools writes -1 for a statistic with no ground truth (APm without medium persons): None
    here, so it is never read as a score; for the main AP it means nothing was evaluated."""
    if stats[0] == -1:
        raise DataError(f"{gt_name}: nothing to evaluate: no ground-truth person counts for AP "
                        "(all ignored: crowd, unlabelled or out of every area range)")
    return {n: (None if v == -1 else float(v)) for n, v in zip(names, stats)}


@contextlib.contextmanager
def _quiet(verbose: bool):
    # COCO/COCOeval print progress and summary tables, and warn when part scores are absent.
    if verbose:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _coco_pair(gt: dict, results: list, verbose: bool) -> tuple[COCO, COCO]:
    # xtcocotools mutates its inputs (ignore flags, result ids/areas) and reads only these fields, so it
    # gets fresh dicts of them: the caller's data stays untouched, and fields it never reads (deeply
    # nested segmentations, unknown keys) cannot trip it. The flags are recomputed on every evaluate(),
    # so one pair serves several iou types.
    images = [{k: img[k] for k in ("id", "crowdIndex") if k in img} for img in gt["images"]]
    categories = [{"id": c["id"], "name": c.get("name", "")} for c in gt.get("categories") or []]
    annotations = [{k: a[k] for k in _GT_FIELDS if k in a} for a in gt["annotations"]]
    for i, a in enumerate(annotations):
        a.setdefault("iscrowd", 0)  # the COCO format's default; xtcocotools needs the key
        # COCOeval records a match as the matched annotation's id and reads id <= 0 as no match (an
        # annotation with id 0 or -2 changed AP): number them 1..N (they are checked unique).
        a["id"] = i + 1
    with _quiet(verbose):
        coco_gt = COCO(annotation_file="<in memory>", ann_data={"images": images, "annotations": annotations,
                                                                  "categories": categories})
        return coco_gt, coco_gt.loadRes([{k: v for k, v in r.items() if k != "segmentation"} for r in results])


def _run_cocoeval(coco_gt: COCO, coco_dt: COCO, iou_type: str, sigmas: np.ndarray, use_area: bool,
                  verbose: bool) -> np.ndarray:
    gt = coco_gt.dataset
    with _quiet(verbose), tempfile.TemporaryDirectory() as tmp:
        coco_eval = COCOeval(coco_gt, coco_dt, iou_type, np.asarray(sigmas, dtype=np.float64), use_area=use_area)
        if iou_type == "keypoints_crowd":
            # The easy/medium/hard split re-reads the GT file named in anno_file for each image's
            # crowdIndex; give it a small file of exactly that so in-memory GT works too.
            split_file = Path(tmp) / "crowd_index.json"
            split_file.write_text(json.dumps({"images": [
                {"id": img["id"], "crowdIndex": img["crowdIndex"]} for img in gt["images"]]}))
            coco_eval.anno_file = [str(split_file), None]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return np.asarray(coco_eval.stats, dtype=np.float64)


def evaluate_coco(gt: dict | str | Path, results: list | str | Path, sigmas: Sequence[float] | np.ndarray,
                  iou_type: str = "keypoints", use_area: bool = True, verbose: bool = False,
                  gt_name: str | None = None, results_name: str | None = None) -> dict[str, float]:
    """OKS AP/AR of COCO results against COCO ground truth, computed by xtcocotools.

    iou_type "keypoints" gives AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl;
    "keypoints_crowd" (CrowdPose; GT images need 'crowdIndex', and the protocol uses
    use_area=False) gives AP, AP50, AP75, AR, AR50, AR75, AP(E), AP(M), AP(H).
    Empty results score zero; a statistic xtcocotools cannot define (APm with no medium-sized person)
    is None; GT with nothing to evaluate (no non-crowd person with labelled keypoints) is an error.
    COCOeval's printing is suppressed unless verbose. gt_name and results_name label in-memory inputs
    in error messages (paths label themselves)."""
    gt_data, gt_name = _load_gt(gt, gt_name)
    res_data, res_name = _load_results(results, results_name)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if iou_type not in ("keypoints", "keypoints_crowd"):
        raise ValueError(f"iou_type must be 'keypoints' or 'keypoints_crowd', got '{iou_type}' "
                         "(whole-body parts: use evaluate_wholebody)")
    num_keypoints = _gt_num_keypoints(gt_data, gt_name)
    if len(sigmas) != num_keypoints:
        raise ValueError(f"{gt_name}: annotations have {num_keypoints} keypoints but {len(sigmas)} sigmas were given")
    if use_area and any("area" not in a for a in gt_data["annotations"]):
        raise DataError(f"{gt_name}: some annotations have no 'area'; evaluate with use_area=False "
                        "(as the CrowdPose protocol does)")
    if iou_type == "keypoints_crowd":
        missing = [img["id"] for img in gt_data["images"] if "crowdIndex" not in img]
        if missing:
            raise DataError(f"{gt_name}: CrowdPose evaluation needs 'crowdIndex' on every image; "
                            f"missing on {len(missing)} image(s), e.g. {missing[:5]}")
        missing = [a.get("id") for a in gt_data["annotations"] if "num_keypoints" not in a]
        if missing:
            raise DataError(f"{gt_name}: CrowdPose evaluation needs 'num_keypoints' on every annotation; "
                            f"missing on {len(missing)}, e.g. ids {missing[:5]}")
    _check_evaluable(gt_data, gt_name)  # every ground-truth problem before any in the results
    _check_results(gt_data, res_data, res_name, {"keypoints": num_keypoints})
    names = CROWDPOSE_STAT_NAMES if iou_type == "keypoints_crowd" else COCO_STAT_NAMES
    if not res_data:
        return {name: 0.0 for name in names}
    stats = _run_cocoeval(*_coco_pair(gt_data, res_data, verbose), iou_type, sigmas, use_area, verbose)
    return _defined(names, stats, gt_name)


def flat_to_wholebody_parts(keypoints: np.ndarray | Sequence[float]) -> dict[str, list[float]]:
    """Split one flat 133-keypoint prediction ((133, 3) or 399 numbers) into the per-part result
    fields xtcocotools reads: keypoints (body), foot_kpts, face_kpts, lefthand_kpts, righthand_kpts."""
    flat = np.asarray(keypoints, dtype=np.float64).reshape(-1)
    if flat.size != WHOLEBODY_NUM_KEYPOINTS * 3:
        raise ValueError(f"a whole-body prediction needs {WHOLEBODY_NUM_KEYPOINTS} keypoints x 3 = "
                         f"{WHOLEBODY_NUM_KEYPOINTS * 3} numbers, got {flat.size}")
    fields, start = {}, 0
    for field, num in WHOLEBODY_PARTS:
        fields[field] = flat[start * 3:(start + num) * 3].tolist()
        start += num
    return fields


def evaluate_wholebody(gt: dict | str | Path, results: list | str | Path, sigmas: Sequence[float] | np.ndarray,
                       verbose: bool = False, gt_name: str | None = None,
                       results_name: str | None = None) -> dict[str, dict[str, float]]:
    """COCO-WholeBody AP/AR per part (body, foot, face, lefthand, righthand, wholebody) with
    xtcocotools, as the dataset's authors and mmpose evaluate it (use_area=True, part sigmas);
    'hand' is the mean of the left- and right-hand numbers, as the dataset's authors report it.
    Results may carry the part fields or one flat 133-keypoint 'keypoints' list."""
    gt_data, gt_name = _load_gt(gt, gt_name)
    res_data, res_name = _load_results(results, results_name)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if len(sigmas) != WHOLEBODY_NUM_KEYPOINTS:
        raise ValueError(f"whole-body evaluation needs {WHOLEBODY_NUM_KEYPOINTS} sigmas, got {len(sigmas)}")
    part_fields = dict(WHOLEBODY_PARTS)
    for ann in gt_data["annotations"]:
        absent = [f for f in part_fields if f not in ann]
        if absent:
            raise DataError(f"{gt_name}: annotation {ann.get('id')} lacks whole-body field(s) {absent}")
    if any("area" not in a for a in gt_data["annotations"]):
        raise DataError(f"{gt_name}: COCO-WholeBody evaluation uses each annotation's 'area'; some have none")
    _check_evaluable(gt_data, gt_name, tuple(part_fields))
    res_data = [_with_part_fields(r, i, res_name) for i, r in enumerate(res_data)]
    _check_results(gt_data, res_data, res_name, part_fields)

    if not res_data:
        return {part: {k: 0.0 for k in COCO_STAT_NAMES}
                for part in WHOLEBODY_PART_NAMES + ("hand", "wholebody")}
    pair = _coco_pair(gt_data, res_data, verbose)
    raw: dict[str, np.ndarray] = {}
    start = 0
    for part, (_, num) in zip(WHOLEBODY_PART_NAMES, WHOLEBODY_PARTS):
        raw[part] = _run_cocoeval(*pair, f"keypoints_{part}", sigmas[start:start + num], True, verbose)
        start += num
    # A hand statistic is the mean of both hands' where both are defined.
    raw["hand"] = np.where((raw["lefthand"] == -1) | (raw["righthand"] == -1), -1,
                           (raw["lefthand"] + raw["righthand"]) / 2)
    raw["wholebody"] = _run_cocoeval(*pair, "keypoints_wholebody", sigmas, True, verbose)
    out = {part: {n: (None if v == -1 else float(v)) for n, v in zip(COCO_STAT_NAMES, stats)}
           for part, stats in raw.items()}
    _defined(COCO_STAT_NAMES, raw["wholebody"], gt_name)
    return out


def _with_part_fields(result: dict, index: int, name: str) -> dict:
    if "foot_kpts" in result or len(result["keypoints"]) != WHOLEBODY_NUM_KEYPOINTS * 3:
        return result
    try:
        return {**result, **flat_to_wholebody_parts(result["keypoints"])}
    except ValueError as exc:
        raise DataError(f"{name}: prediction {index}: {exc}") from None


class CocoEvaluator:
    """In-memory OKS evaluation for the training loop: holds the GT once, scores prediction lists.

    The protocol follows the keypoint set: CrowdPose-14 -> 'keypoints_crowd' without areas,
    133 keypoints -> COCO-WholeBody per part (flattened to 'part/AP' keys, with 'AP'/'AR' the
    whole-body numbers), anything else with sigmas -> COCO 'keypoints'."""

    default_metric = "AP"

    def __init__(self, gt: dict, keypoint_set: KeypointSet, verbose: bool = False) -> None:
        self.gt, _ = _load_gt(gt)
        self.keypoint_set = keypoint_set
        self.sigmas = keypoint_set.sigmas_array
        self.verbose = verbose
        categories = self.gt.get("categories") or [{"id": 1}]
        self.category_id = int(categories[0]["id"])
        if keypoint_set.num_keypoints == WHOLEBODY_NUM_KEYPOINTS:
            self.protocol = "wholebody"
        elif keypoint_set.name == "crowdpose14":
            self.protocol = "crowdpose"
        else:
            self.protocol = "coco"
        # Before any training: a validation set with nothing to evaluate would only fail at its first validation.
        _check_evaluable(self.gt, "ground truth", tuple(dict(WHOLEBODY_PARTS)) if self.protocol == "wholebody"
                         else ("keypoints",))

    def evaluate(self, predictions: Sequence[dict]) -> dict[str, float]:
        """OKS statistics (AP, AP50, ...; None where undefined) of per-person prediction dicts
        (image_id, keypoints (K, 3) in image pixels, score) under this set's protocol."""
        results = coco_results(predictions, self.category_id)
        if self.protocol == "wholebody":
            parts = evaluate_wholebody(self.gt, results, self.sigmas, verbose=self.verbose)
            flat = {f"{part}/{k}": v for part, stats in parts.items() for k, v in stats.items()}
            return {"AP": parts["wholebody"]["AP"], "AR": parts["wholebody"]["AR"], **flat}
        if self.protocol == "crowdpose":
            return evaluate_coco(self.gt, results, self.sigmas, "keypoints_crowd", use_area=False,
                                 verbose=self.verbose)
        return evaluate_coco(self.gt, results, self.sigmas, "keypoints", use_area=True, verbose=self.verbose)
