"""MPII Human Pose in the widely used JSON form (a list of {image, joints, joints_vis, center,
scale}, one entry per person) -> PoseData with mpii16."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from posekit.data.io import image_size
from posekit.data.readers.common import bbox_from_keypoints, load_json, load_mat
from posekit.data.records import DataError, ImageRecord, Person, PoseData
from posekit.keypoints import get_keypoint_set

# MPII's `scale` is the person height in units of 200 px.
MPII_PIXEL_STD = 200.0
# PCKh normalises by 0.6 x the diagonal of the annotated head box (the official evaluation's SC_BIAS).
PCKH_HEAD_FACTOR = 0.6


def read_mpii(json_path: str | Path, image_root: str | Path | None = None) -> PoseData:
    """MPII annotations. Coordinates are converted from MATLAB's 1-based pixels to 0-based ones.
    Each person's bbox is the square of side 200 * scale centred on `center`, so center and scale
    come back exactly as bbox centre and bbox width / 200 (unclipped; from the joints if the entry
    has no valid center/scale). Person ids are the entries' positions in the JSON list, the order of
    the head boxes `read_mpii_head_sizes` returns. Image sizes are read from the image headers.
    image_root defaults to an `images/` folder beside the JSON if there is one, else its folder."""
    path = Path(json_path)
    entries = load_json(path)
    if not isinstance(entries, list):
        raise DataError(f"{path}: expected a list of MPII person entries (image, joints, joints_vis, center, scale)")
    if image_root is None:
        image_root = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    kset = get_keypoint_set("mpii16")
    records: dict[str, ImageRecord] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "image" not in entry or "joints" not in entry:
            raise DataError(f"{path}: entry {index} needs keys 'image' and 'joints'")
        joints = np.asarray(entry["joints"], dtype=np.float32)
        visible = np.asarray(entry.get("joints_vis", np.ones(len(joints))), dtype=np.float32)
        if joints.shape != (kset.num_keypoints, 2) or visible.shape != (kset.num_keypoints,):
            raise DataError(f"{path}: entry {index} ({entry['image']}) has joints {joints.shape} and joints_vis "
                            f"{visible.shape}; MPII has 16 joints")
        keypoints = np.zeros((kset.num_keypoints, 3), dtype=np.float32)
        labelled = visible > 0
        keypoints[labelled, :2] = joints[labelled] - 1
        keypoints[labelled, 2] = 2
        name = str(entry["image"])
        record = records.get(name)
        if record is None:
            file_name = os.path.abspath(Path(image_root) / name)
            width, height = image_size(file_name)
            stem = Path(name).stem
            record = records[name] = ImageRecord(int(stem) if stem.isdigit() else len(records), file_name,
                                                 width, height)
        center = np.asarray(entry.get("center", (-1, -1)), dtype=np.float32) - 1
        scale = float(entry.get("scale", 0))
        if scale > 0 and center[0] >= 0:
            side = scale * MPII_PIXEL_STD
            bbox = np.array([center[0] - side / 2, center[1] - side / 2, side, side], dtype=np.float32)
        else:
            bbox = bbox_from_keypoints(keypoints, record.width, record.height)
        record.persons.append(Person(keypoints=keypoints, bbox=bbox, area=float(bbox[2] * bbox[3]), id=index))
    return PoseData(list(records.values()), kset, source=str(path))


def read_mpii_head_sizes(mat_path: str | Path) -> np.ndarray:
    """PCKh head sizes, one per person in JSON order, from the official ground-truth file
    (e.g. mpii_gt_val.mat, array `headboxes_src` of shape (2, 2, N): corners x1 y1 / x2 y2)."""
    path = Path(mat_path)
    mat = load_mat(path, "MPII ground-truth")
    boxes = np.asarray(mat.get("headboxes_src", np.empty(0)), dtype=np.float64)
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise DataError(f"{path}: expected array 'headboxes_src' of shape (2, 2, N), found {boxes.shape}")
    return np.linalg.norm(boxes[1] - boxes[0], axis=0) * PCKH_HEAD_FACTOR
