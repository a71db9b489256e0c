"""MPII Human Pose in the widely used JSON form (a list of {image, joints, joints_vis, center,
scale}, one entry per person) -> PoseData with mpii16."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from posekit.data.io import image_size
from posekit.data.readers.coco_checks import is_number, keypoint_triplets, numbers, show
from posekit.data.readers.common import bbox_from_keypoints, image_path, load_json, load_mat
from posekit.data.records import DataError, ImageRecord, Person, PoseData
from posekit.keypoints import get_keypoint_set

# MPII's `scale` is the person height in units of 200 px.
MPII_PIXEL_STD = 200.0
# PCKh normalises by 0.6 x the diagonal of the annotated head box (the official evaluation's SC_BIAS).
PCKH_HEAD_FACTOR = 0.6


def read_mpii(json_path: str | Path, image_root: str | Path | None = None,
              allow_absolute_paths: bool = False) -> PoseData:
    """MPII annotations. Coordinates are converted from MATLAB's 1-based pixels to 0-based ones.
    Each person's bbox is the square of side 200 * scale centred on `center`, so center and scale
    come back exactly as bbox centre and bbox width / 200 (unclipped; from the joints if the entry
    has no valid center/scale). Person ids are the entries' positions in the JSON list, the order of
    the head boxes `read_mpii_head_sizes` returns. Image sizes are read from the image headers.
    image_root defaults to an `images/` folder beside the JSON if there is one, else its folder; image
    paths must stay inside it unless allow_absolute_paths (as for read_coco). Every value is checked
    (finite numbers of the right shape, labelled joints within one image size of the frame)."""
    path = Path(json_path)
    entries = load_json(path)
    if not isinstance(entries, list):
        raise DataError(f"{path}: expected a list of MPII person entries (image, joints, joints_vis, center, scale)")
    if image_root is None:
        image_root = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    root = os.path.abspath(image_root)
    kset = get_keypoint_set("mpii16")
    k = kset.num_keypoints
    records: dict[str, ImageRecord] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "image" not in entry or "joints" not in entry:
            raise DataError(f"{path}: entry {index} needs keys 'image' and 'joints'")
        name = entry["image"]
        if not (isinstance(name, str) and name):
            raise DataError(f"{path}: entry {index}: 'image' must be a non-empty file name, got {show(name)}")
        where = f"entry {index} ({name})"
        joints = _values(path, where, entry, "joints", (k, 2), f"{k} [x, y] pairs, as MPII has {k} joints")
        visible = _values(path, where, entry, "joints_vis", (k,), f"{k} flags, one per joint", np.ones(k))
        keypoints = np.zeros((k, 3), dtype=np.float32)
        labelled = visible > 0
        keypoints[labelled, :2] = joints[labelled] - 1
        keypoints[labelled, 2] = 2
        record = records.get(name)
        if record is None:
            file_name = image_path(path, where, "image", root, name, allow_absolute_paths)
            width, height = image_size(file_name)
            stem = Path(name).stem
            record = records[name] = ImageRecord(int(stem) if stem.isdigit() else len(records), file_name,
                                                 width, height)
        # The coco_checks bound: labelled joints at most one image size outside the frame.
        keypoint_triplets(str(path), where, "joints", keypoints.reshape(-1).tolist(), (record.width, record.height))
        center = _values(path, where, entry, "center", (2,), "2 numbers [x, y]", np.zeros(2)) - 1
        scale = entry.get("scale")
        if scale is not None and not is_number(scale):
            raise DataError(f"{path}: {where}: 'scale' must be a finite number, got {show(scale)}")
        scale = float(scale or 0)
        if scale > 0 and center[0] >= 0:
            side = scale * MPII_PIXEL_STD
            bbox = np.array([center[0] - side / 2, center[1] - side / 2, side, side], dtype=np.float32)
        else:
            bbox = bbox_from_keypoints(keypoints, record.width, record.height)
        record.persons.append(Person(keypoints=keypoints, bbox=bbox, area=float(bbox[2] * bbox[3]), id=index))
    return PoseData(list(records.values()), kset, source=str(path))


def _values(path: Path, where: str, entry: dict, key: str, shape: tuple[int, ...], what: str,
            default: np.ndarray | None = None) -> np.ndarray:
    """entry[key] (`default` when absent or null) as a float array of `shape`: a flat list, or a list
    of equal rows, of finite numbers; DataError naming the file, the entry and the key."""
    value = entry.get(key)
    if value is None and default is not None:
        return default
    rows = (len(shape) == 2 and isinstance(value, list)
            and all(isinstance(r, list) and len(r) == shape[1] for r in value))
    flat = [v for r in value for v in r] if rows else value
    array = numbers(str(path), where, key, flat, what)
    if array.size != int(np.prod(shape)) or (len(shape) == 2 and not rows):
        raise DataError(f"{path}: {where}: '{key}' must be {what}, got {show(value)}")
    return array.reshape(shape)


def read_mpii_head_sizes(mat_path: str | Path) -> np.ndarray:
    """PCKh head sizes, one per person in JSON order, from the official ground-truth file
    (e.g. mpii_gt_val.mat, array `headboxes_src` of shape (2, 2, N): corners x1 y1 / x2 y2)."""
    path = Path(mat_path)
    mat = load_mat(path, "MPII ground-truth")
    boxes = np.asarray(mat.get("headboxes_src", np.empty(0)), dtype=np.float64)
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise DataError(f"{path}: expected array 'headboxes_src' of shape (2, 2, N), found {boxes.shape}")
    return np.linalg.norm(boxes[1] - boxes[0], axis=0) * PCKH_HEAD_FACTOR
