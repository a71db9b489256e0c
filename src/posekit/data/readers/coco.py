"""COCO-format keypoint JSON (COCO, COCO-WholeBody, Halpe, CrowdPose, OCHuman, AIC, ...) -> PoseData."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from posekit.data.readers.coco_checks import check_coco_gt
from posekit.data.readers.common import bbox_from_keypoints, image_path, load_json
from posekit.data.records import DataError, ImageRecord, Person, PoseData
from posekit.keypoints import (WHOLEBODY_PARTS, KeypointSet, KeypointSetError, canonical_keypoint_name,
                               find_keypoint_set, get_keypoint_set)

# Sets inferred from the keypoint count alone when the category does not name its keypoints.
# 14 is missing on purpose: CrowdPose and LSP both have 14 joints in different orders.
SET_BY_COUNT = {17: "coco17", 133: "coco_wholebody133", 136: "halpe136", 16: "mpii16"}


def read_coco(json_path: str | Path, image_root: str | Path | None = None,
              keypoint_set: str | KeypointSet | None = None, allow_absolute_paths: bool = False) -> PoseData:
    """Read a COCO keypoint JSON. Every image is kept (with or without persons), and every person
    annotation of the person category, crowd regions and persons without keypoints included.

    image_root defaults to an `images/` folder beside the JSON if there is one, else the JSON's folder.
    Image paths must stay inside it: a `file_name` that leads out (`../`) or an absolute path outside it
    is an error, unless allow_absolute_paths (a trusted file; `posekit convert` writes absolute paths).
    The keypoint set, when not given, is the built-in set whose names match the category's keypoint
    names, else inferred from the count (17 coco17, 133 coco_wholebody133, 136 halpe136, 16 mpii16),
    else built from the category itself (its names, left/right flip pairs, skeleton; no sigmas).
    Whole-body files keep foot/face/hand points in separate fields; they are concatenated in the
    standard 133 order. Every id, size, keypoint, box and area is checked first (coco_checks).
    """
    path = Path(json_path)
    data = load_json(path)
    check_coco_gt(data, str(path), reader=True)
    if image_root is None:
        image_root = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    category = _person_category(path, data.get("categories") or [])
    annotations = [a for a in data["annotations"] if category is None or a["category_id"] == category["id"]]
    if data["annotations"] and not annotations:
        raise DataError(f"{path}: none of the {len(data['annotations'])} annotations has the person category's "
                        f"'category_id' {category['id']}")
    wholebody = any("foot_kpts" in a for a in annotations)
    flat = [_flat_keypoints(path, a, wholebody) for a in annotations]

    if keypoint_set is None:
        kset = _infer_keypoint_set(path, category, flat, wholebody)
    else:
        kset = get_keypoint_set(keypoint_set)
    k = kset.num_keypoints

    root = os.path.abspath(image_root)
    records: dict[int, ImageRecord] = {}
    for i, img in enumerate(data["images"]):
        file_name = image_path(path, f"images[{i}]", "file_name", root, img["file_name"], allow_absolute_paths)
        records[img["id"]] = ImageRecord(img["id"], file_name, int(img["width"]), int(img["height"]))

    for ann, values in zip(annotations, flat):
        record = records[ann["image_id"]]
        if values is None:
            keypoints = np.zeros((k, 3), dtype=np.float32)
        elif len(values) != 3 * k:
            raise DataError(f"{path}: annotation id {ann['id']} has {len(values) / 3:g} keypoints but keypoint set "
                            f"'{kset.name}' has {k}")
        else:
            keypoints = values.reshape(k, 3)
        record.persons.append(_person(ann, keypoints, record))
    return PoseData(list(records.values()), kset, source=str(path))


def _person_category(path: Path, categories: list) -> dict | None:
    """The category whose annotations are read: the one named 'person', else the only one."""
    if not categories:
        return None
    persons = [c for c in categories if c.get("name") == "person"]
    if len(persons) == 1:
        return persons[0]
    if len(categories) == 1:
        return categories[0]
    raise DataError(f"{path}: cannot tell the person category among {[c.get('name') for c in categories]}")


def _flat_keypoints(path: Path, ann: dict, wholebody: bool) -> np.ndarray | None:
    """The annotation's keypoints (checked by check_coco_gt) as one flat float array, or None if it has none."""
    if not wholebody:
        if not ann.get("keypoints"):
            return None
        return np.asarray(ann["keypoints"], dtype=np.float32)
    parts = []
    for key, count in WHOLEBODY_PARTS:
        # A part a whole-body annotation leaves out is unlabelled: v = 0.
        parts.append(np.asarray(ann[key], dtype=np.float32) if ann.get(key) else np.zeros(3 * count, np.float32))
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


def _person(ann: dict, keypoints: np.ndarray, record: ImageRecord) -> Person:
    keypoints = np.array(keypoints, dtype=np.float32)
    flags = keypoints[:, 2]
    # COCO-WholeBody stores a fractional flag for face and hand points; like its evaluation, read
    # any positive flag as labelled, and keep the record's COCO flags {0, 1, 2} (2 = visible).
    fractional = (flags > 0) & ~np.isin(flags, (1, 2))
    flags[fractional] = 2
    if ann.get("bbox") is not None:
        bbox = np.asarray(ann["bbox"], dtype=np.float32)
    else:
        bbox = bbox_from_keypoints(keypoints, record.width, record.height)
    area = float(ann["area"]) if ann.get("area") is not None else float(bbox[2] * bbox[3])
    return Person(keypoints=keypoints, bbox=bbox, area=area, iscrowd=bool(ann.get("iscrowd", 0)),
                  id=ann["id"], segmentation=ann.get("segmentation"))
