"""COCO-format keypoint JSON (COCO, COCO-WholeBody, Halpe, CrowdPose, OCHuman, AIC, ...) -> PoseData."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from posekit.data.readers.common import bbox_from_keypoints, load_json
from posekit.data.records import DataError, ImageRecord, Person, PoseData
from posekit.keypoints import (WHOLEBODY_PARTS, KeypointSet, KeypointSetError, canonical_keypoint_name,
                               find_keypoint_set, get_keypoint_set)

# Sets inferred from the keypoint count alone when the category does not name its keypoints.
# 14 is missing on purpose: CrowdPose and LSP both have 14 joints in different orders.
SET_BY_COUNT = {17: "coco17", 133: "coco_wholebody133", 136: "halpe136", 16: "mpii16"}


def read_coco(json_path: str | Path, image_root: str | Path | None = None,
              keypoint_set: str | KeypointSet | None = None) -> PoseData:
    """Read a COCO keypoint JSON. Every image is kept (with or without persons), and every person
    annotation of the person category, crowd regions and persons without keypoints included.

    image_root defaults to an `images/` folder beside the JSON if there is one, else the JSON's folder.
    The keypoint set, when not given, is the built-in set whose names match the category's keypoint
    names, else inferred from the count (17 coco17, 133 coco_wholebody133, 136 halpe136, 16 mpii16),
    else built from the category itself (its names, left/right flip pairs, skeleton; no sigmas).
    Whole-body files keep foot/face/hand points in separate fields; they are concatenated in the
    standard 133 order.
    """
    path = Path(json_path)
    data = load_json(path)
    if isinstance(data, list):
        raise DataError(f"{path}: is a list, not a COCO annotation file (a results or detections file?)")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise DataError(f"{path}: missing key '{key}' (a list) of a COCO annotation file")
    if image_root is None:
        image_root = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    category = _person_category(path, data.get("categories") or [])
    annotations = [a for a in data["annotations"] if category is None or _get(path, a, "category_id") == category["id"]]
    wholebody = any(isinstance(a, dict) and "foot_kpts" in a for a in annotations)
    flat = [_flat_keypoints(path, a, wholebody) for a in annotations]

    if keypoint_set is None:
        kset = _infer_keypoint_set(path, category, flat, wholebody)
    else:
        kset = get_keypoint_set(keypoint_set)
    k = kset.num_keypoints

    records: dict[int, ImageRecord] = {}
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict):
            raise DataError(f"{path}: images[{i}] is not an object")
        missing = [key for key in ("id", "file_name", "width", "height") if key not in img]
        if missing:
            raise DataError(f"{path}: images[{i}] (id {img.get('id')}) is missing key(s) {missing}")
        image_id = int(img["id"])
        records[image_id] = ImageRecord(image_id, os.path.abspath(Path(image_root) / img["file_name"]),
                                        int(img["width"]), int(img["height"]))

    for ann, values in zip(annotations, flat):
        ann_id = _get(path, ann, "id")
        image_id = int(_get(path, ann, "image_id"))
        record = records.get(image_id)
        if record is None:
            raise DataError(f"{path}: annotation id {ann_id} refers to image_id {image_id}, which is not in 'images'")
        if values is None:
            keypoints = np.zeros((k, 3), dtype=np.float32)
        elif len(values) != 3 * k:
            raise DataError(f"{path}: annotation id {ann_id} has {len(values) / 3:g} keypoints but keypoint set "
                            f"'{kset.name}' has {k}")
        else:
            keypoints = values.reshape(k, 3)
        record.persons.append(_person(path, ann, ann_id, keypoints, record))
    return PoseData(list(records.values()), kset, source=str(path))


def _get(path: Path, ann: Any, key: str) -> Any:
    if not isinstance(ann, dict):
        raise DataError(f"{path}: an annotation is not an object: {str(ann)[:80]}")
    if key not in ann:
        raise DataError(f"{path}: annotation id {ann.get('id', '?')} is missing key '{key}'")
    return ann[key]


def _person_category(path: Path, categories: list) -> dict | None:
    """The category whose annotations are read: the one named 'person', else the only one."""
    if not categories:
        return None
    if not all(isinstance(c, dict) and "id" in c for c in categories):
        raise DataError(f"{path}: 'categories' entries must be objects with an 'id'")
    persons = [c for c in categories if c.get("name") == "person"]
    if len(persons) == 1:
        return persons[0]
    if len(categories) == 1:
        return categories[0]
    raise DataError(f"{path}: cannot tell the person category among {[c.get('name') for c in categories]}")


def _as_flat(path: Path, ann: dict, key: str) -> np.ndarray:
    try:
        values = np.asarray(ann[key], dtype=np.float32)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or len(values) % 3:
        raise DataError(f"{path}: annotation id {ann.get('id', '?')}: '{key}' must be a flat list "
                        "x1, y1, v1, x2, y2, v2, ...")
    return values


def _flat_keypoints(path: Path, ann: Any, wholebody: bool) -> np.ndarray | None:
    """The annotation's keypoints as one flat float array, or None if it has none."""
    _get(path, ann, "id")
    if not wholebody:
        if not ann.get("keypoints"):
            return None
        return _as_flat(path, ann, "keypoints")
    parts = []
    for key, count in WHOLEBODY_PARTS:
        # A part a whole-body annotation leaves out is unlabelled: v = 0.
        parts.append(_as_flat(path, ann, key) if ann.get(key) else np.zeros(3 * count, dtype=np.float32))
    for (key, count), values in zip(WHOLEBODY_PARTS, parts):
        if len(values) != 3 * count:
            raise DataError(f"{path}: annotation id {ann['id']}: '{key}' has {len(values) // 3} points, "
                            f"COCO-WholeBody has {count}")
    return np.concatenate(parts)


def _infer_keypoint_set(path: Path, category: dict | None, flat: list[np.ndarray | None],
                        wholebody: bool) -> KeypointSet:
    names = [str(n) for n in (category or {}).get("keypoints") or []]
    if wholebody:
        return get_keypoint_set("coco_wholebody133")
    first = next((v for v in flat if v is not None), None)
    count = len(first) // 3 if first is not None else len(names)
    # Some categories name a different number of keypoints than the file stores (17 names over
    # 133-point whole-body keypoints; Human-Art's 21 names over its 17-point 'keypoints'): the stored
    # count decides then.
    if names and len(names) == count:
        return find_keypoint_set(names) or _set_from_category(path, category or {}, names)
    if count in SET_BY_COUNT:
        return get_keypoint_set(SET_BY_COUNT[count])
    if count == 0:
        raise DataError(f"{path}: no keypoints in any annotation and no keypoint names in the category; "
                        "give the keypoint set")
    raise DataError(f"{path}: cannot infer the keypoint set from {count} unnamed keypoints "
                    f"(known counts: {sorted(SET_BY_COUNT)}; 14 is ambiguous between crowdpose14 and lsp14); "
                    "give the keypoint set")


def _set_from_category(path: Path, category: dict, names: list[str]) -> KeypointSet:
    """A set built from the file's own category: canonical names, flip pairs by left/right, skeleton."""
    canonical = tuple(canonical_keypoint_name(n) for n in names)
    index = {n: i for i, n in enumerate(canonical)}
    flip = tuple((i, index[n.replace("left", "right")]) for i, n in enumerate(canonical)
                 if "left" in n and n.replace("left", "right") in index)
    try:
        skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in category.get("skeleton") or [])  # 1-based
        return KeypointSet(path.stem, canonical, flip, None, skeleton)
    except (KeypointSetError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: the person category does not define a usable keypoint set: {exc}") from None


def _person(path: Path, ann: dict, ann_id: Any, keypoints: np.ndarray, record: ImageRecord) -> Person:
    keypoints = np.array(keypoints, dtype=np.float32)
    flags = keypoints[:, 2]
    if not (np.isfinite(keypoints).all() and (flags >= 0).all()):
        raise DataError(f"{path}: annotation id {ann_id} has non-finite keypoints or negative visibility flags")
    # COCO-WholeBody stores a fractional flag for face and hand points; like its evaluation, read
    # any positive flag as labelled, and keep the record's COCO flags {0, 1, 2} (2 = visible).
    fractional = (flags > 0) & ~np.isin(flags, (1, 2))
    flags[fractional] = 2
    if ann.get("bbox") is not None:
        bbox = np.asarray(ann["bbox"], dtype=np.float32)
        if bbox.shape != (4,):
            raise DataError(f"{path}: annotation id {ann_id}: bbox must be 4 numbers x, y, w, h")
    else:
        bbox = bbox_from_keypoints(keypoints, record.width, record.height)
    area = float(ann["area"]) if ann.get("area") is not None else float(bbox[2] * bbox[3])
    return Person(keypoints=keypoints, bbox=bbox, area=area, iscrowd=bool(ann.get("iscrowd", 0)),
                  id=int(ann_id), segmentation=ann.get("segmentation"))
