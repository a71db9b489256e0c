"""Checks on COCO keypoint JSON shared by the training reader and the evaluators: each bad value is a
DataError that names the file, the entry and the field, before any number is computed from it.

Accepted as documented (docs/reliability.md): flags above 2 or fractional (read as labelled, as
xtcocotools does); labelled joints up to one image size outside the frame (persons cut by the
border); image sizes written as integral floats (640.0). Ids must be JSON integers (1.0 is refused,
so ground truth and results match exactly).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from posekit.data.records import DataError

# Ids must fit the int64 arrays xtcocotools and numpy build from them.
MAX_ID = 2 ** 63 - 1
# Bound on labelled coordinates when the image size is unknown (no width/height to compare with).
MAX_COORDINATE = 1e5
# Keypoint fields of COCO-WholeBody annotations besides 'keypoints'.
PART_FIELDS = ("foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")


def is_id(value: Any) -> bool:
    """True for a JSON integer within int64 (not a bool, not 1.0)."""
    return type(value) is int and abs(value) <= MAX_ID


def is_number(value: Any) -> bool:
    """True for a finite int or float (not a bool, not a numeric string)."""
    return type(value) in (int, float) and math.isfinite(value)


def show(value: Any) -> str:
    """repr(value) cut to 40 characters, for error messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_id(name: str, where: str, entry: dict, key: str) -> int:
    """entry[key] as an id; DataError naming file `name`, entry `where` and the key if missing or not an integer."""
    if key not in entry:
        raise DataError(f"{name}: {where} is missing key '{key}'")
    if not is_id(entry[key]):
        raise DataError(f"{name}: {where}: '{key}' must be an integer, got {show(entry[key])}")
    return entry[key]


def check_size(name: str, where: str, entry: dict, key: str) -> int:
    """A positive integer image size (640.0 is taken as 640)."""
    if key not in entry:
        raise DataError(f"{name}: {where} is missing key '{key}'")
    value = entry[key]
    if not (is_number(value) and value > 0 and float(value).is_integer() and value <= MAX_ID):
        raise DataError(f"{name}: {where}: '{key}' must be a positive integer, got {show(value)}")
    return int(value)


def numbers(name: str, where: str, key: str, value: Any, what: str) -> np.ndarray:
    """A flat JSON list of finite numbers (no strings, booleans, nulls or nested lists) as float64."""
    kinds = set(map(type, value)) if isinstance(value, list) else {None}
    if not kinds <= {int, float}:
        raise DataError(f"{name}: {where}: '{key}' must be {what}, got {show(value)}")
    array = np.array(value, dtype=np.float64)
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise DataError(f"{name}: {where}: '{key}' holds {value[bad]} at position {bad}; numbers must be finite")
    return array


def keypoint_triplets(name: str, where: str, key: str, value: Any, size: tuple[int, int] | None,
                      count: int | None = None, labelled_bounds: bool = True) -> np.ndarray:
    """A flat x1, y1, v1, ... list -> (K, 3) float64; flags >= 0; labelled ground-truth joints within
    one image size of the frame (or MAX_COORDINATE when the size is unknown)."""
    flat = numbers(name, where, key, value, "a flat list of numbers x1, y1, v1, x2, y2, v2, ...")
    if flat.size % 3 or (count is not None and flat.size != 3 * count):
        expected = f"{count} keypoints x 3 = {3 * count} numbers" if count is not None else "a multiple of 3"
        raise DataError(f"{name}: {where}: '{key}' has {flat.size} numbers; expected {expected}")
    points = flat.reshape(-1, 3)
    if (points[:, 2] < 0).any():
        joint = int(np.flatnonzero(points[:, 2] < 0)[0])
        raise DataError(f"{name}: {where}: '{key}' joint {joint} has visibility {points[joint, 2]:g}; flags are >= 0")
    if labelled_bounds:
        labelled = points[points[:, 2] > 0, :2]
        if size is None:
            low, high = np.full(2, -MAX_COORDINATE), np.full(2, MAX_COORDINATE)
        else:
            low, high = -np.asarray(size, float), 2 * np.asarray(size, float)
        outside = ((labelled < low) | (labelled > high)).any(axis=1)
        if outside.any():
            x, y = labelled[np.flatnonzero(outside)[0]]
            frame = f"the {size[0]}x{size[1]} image" if size is not None else "any image"
            raise DataError(f"{name}: {where}: '{key}' has a labelled joint at ({x:g}, {y:g}), far outside {frame}")
    return points


def check_bbox(name: str, where: str, value: Any) -> np.ndarray:
    """A COCO bbox as (4,) float64 x, y, w, h with w, h >= 0; DataError otherwise."""
    box = numbers(name, where, "bbox", value, "4 numbers x, y, w, h")
    if box.shape != (4,) or (box[2:] < 0).any():
        raise DataError(f"{name}: {where}: 'bbox' must be 4 finite numbers x, y, w, h with w, h >= 0, "
                        f"got {show(value)}")
    return box


def check_coco_gt(data: Any, name: str, reader: bool) -> None:
    """Structure and values of a COCO keypoint annotation file. reader=True (training): images need
    file_name, width and height; an annotation may have no keypoints. reader=False (evaluation):
    every annotation needs keypoints and a bbox; file names and sizes are checked only if present."""
    if isinstance(data, list):
        raise DataError(f"{name}: is a list, not a COCO annotation file (a results or detections file?)")
    if not isinstance(data, dict):
        raise DataError(f"{name}: not a COCO annotation file (need a mapping with 'images' and 'annotations' lists)")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise DataError(f"{name}: not a COCO annotation file: missing key '{key}' (a list)")
    categories = data.get("categories")
    if categories is not None and not isinstance(categories, list):
        raise DataError(f"{name}: 'categories' must be a list, got {show(categories)}")
    category_ids: set[int] = set()
    for i, category in enumerate(categories or []):
        if not isinstance(category, dict):
            raise DataError(f"{name}: categories[{i}] is not an object: {show(category)}")
        where = f"categories[{i}]"
        category_id = check_id(name, where, category, "id")
        if category_id in category_ids:
            raise DataError(f"{name}: {where}: duplicate category 'id' {category_id}")
        category_ids.add(category_id)
        names = category.get("keypoints")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise DataError(f"{name}: {where}: 'keypoints' must be a list of keypoint names, got {show(names)}")
    sizes: dict[int, tuple[int, int] | None] = {}
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict):
            raise DataError(f"{name}: images[{i}] is not an object: {show(image)}")
        where = f"images[{i}]"
        image_id = check_id(name, where, image, "id")
        if image_id in sizes:
            raise DataError(f"{name}: {where}: duplicate image 'id' {image_id}")
        where = f"images[{i}] (id {image_id})"
        if reader or "width" in image or "height" in image:
            sizes[image_id] = (check_size(name, where, image, "width"), check_size(name, where, image, "height"))
        else:
            sizes[image_id] = None
        if reader and "file_name" not in image:
            raise DataError(f"{name}: {where} is missing key 'file_name'")
        if reader and not (isinstance(image["file_name"], str) and image["file_name"]):
            raise DataError(f"{name}: {where}: 'file_name' must be a non-empty string, got {show(image['file_name'])}")
    annotation_ids: set[int] = set()
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise DataError(f"{name}: annotations[{i}] is not an object: {show(ann)}")
        annotation_id = check_id(name, f"annotations[{i}]", ann, "id")
        where = f"annotation id {annotation_id}"
        if annotation_id in annotation_ids:
            raise DataError(f"{name}: annotations[{i}]: duplicate annotation 'id' {annotation_id}")
        annotation_ids.add(annotation_id)
        image_id = check_id(name, where, ann, "image_id")
        if image_id not in sizes:
            raise DataError(f"{name}: {where} refers to image_id {image_id}, which is not in 'images'")
        category_id = check_id(name, where, ann, "category_id")
        if category_ids and category_id not in category_ids:
            raise DataError(f"{name}: {where}: 'category_id' {category_id} is not in 'categories' "
                            f"({sorted(category_ids)[:5]})")
        _check_annotation_values(name, where, ann, sizes[image_id], reader)


def _check_annotation_values(name: str, where: str, ann: dict, size: tuple[int, int] | None, reader: bool) -> None:
    keypoints = ann.get("keypoints")
    if keypoints is None or (reader and keypoints == []):
        if not reader:
            raise DataError(f"{name}: {where}: no 'keypoints' to evaluate")
    else:
        keypoint_triplets(name, where, "keypoints", keypoints, size)
    for key in PART_FIELDS:
        if ann.get(key) is not None and not (reader and ann[key] == []):
            keypoint_triplets(name, where, key, ann[key], size)
    if ann.get("bbox") is not None or (not reader and "bbox" in ann):
        check_bbox(name, where, ann["bbox"])
    elif not reader:
        raise DataError(f"{name}: {where}: no 'bbox' (xtcocotools needs one on every annotation)")
    area = ann.get("area")
    if (area is not None or (not reader and "area" in ann)) and not (is_number(area) and area >= 0):
        raise DataError(f"{name}: {where}: 'area' must be a finite number >= 0, got {show(area)}")
    if "iscrowd" in ann and not (type(ann["iscrowd"]) in (int, bool) and ann["iscrowd"] in (0, 1)):
        raise DataError(f"{name}: {where}: 'iscrowd' must be 0 or 1, got {show(ann['iscrowd'])}")
    count = ann.get("num_keypoints")
    if count is not None and not (type(count) is int and count >= 0):
        raise DataError(f"{name}: {where}: 'num_keypoints' must be an integer >= 0, got {show(count)}")
