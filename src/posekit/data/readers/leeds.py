"""Leeds Sports Pose (LSP) and LSP Extended (LSPET): joints.mat -> PoseData with lsp14.

LSP and LSPET store the same 14 joints but differ in layout and in the meaning of the flag:
LSP `joints` is (3, 14, 2000) with flag 0 = visible; LSPET `joints` is (14, 3, N) with flag 1 = visible.
Coordinates are kept as stored. One person per image; its box comes from the labelled joints,
padded by common.BBOX_PADDING of its size on each side and clipped to the image.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from posekit.data.io import image_size
from posekit.data.readers.common import bbox_from_keypoints, load_mat
from posekit.data.records import DataError, ImageRecord, Person, PoseData
from posekit.keypoints import get_keypoint_set

# The standard LSP split: images 1-1000 train, 1001-2000 test.
LSP_SPLITS = {"train": range(0, 1000), "test": range(1000, 2000), "all": range(0, 2000)}


def _load_joints(path: Path) -> np.ndarray:
    mat = load_mat(path, "joints")
    if "joints" not in mat:
        raise DataError(f"{path}: no array 'joints' (found {sorted(k for k in mat if not k.startswith('__'))})")
    joints = mat["joints"]
    if not isinstance(joints, np.ndarray) or joints.dtype.kind not in "iuf":
        kind = joints.dtype if isinstance(joints, np.ndarray) else type(joints).__name__
        raise DataError(f"{path}: 'joints' must be an array of real numbers, found {kind}")
    return joints.astype(np.float64)


def _check_finite(path: Path, joints: np.ndarray, name_format: str) -> None:
    """joints (N, 14, 3): NaN or infinity anywhere is an error naming the image (1-based, as its file)."""
    bad = ~np.isfinite(joints)
    if bad.any():
        i, j, c = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(f"{path}: image {i + 1} ({name_format.format(i + 1)}): joint {j} "
                        f"{'xyv'[c]} is {joints[i, j, c]}; coordinates and flags must be finite")


def _record(image_path: Path, index: int, keypoints: np.ndarray, mat: Path) -> ImageRecord:
    width, height = image_size(image_path)
    # Joints of persons cut by the border may lie outside the frame, but not by more than its size.
    xy = keypoints[keypoints[:, 2] > 0, :2]
    outside = (xy < -np.array([width, height])) | (xy > 2 * np.array([width, height]))
    if outside.any():
        x, y = xy[np.flatnonzero(outside.any(axis=1))[0]]
        raise DataError(f"{mat}: image {index} ({image_path.name}): a labelled joint at ({x:g}, {y:g}) is far "
                        f"outside the {width}x{height} image")
    bbox = bbox_from_keypoints(keypoints, width, height)
    person = Person(keypoints=keypoints.astype(np.float32), bbox=bbox, area=float(bbox[2] * bbox[3]),
                    iscrowd=False, id=index)
    return ImageRecord(index, os.path.abspath(image_path), width, height, [person])


def read_lsp(root: str | Path, split: str = "train") -> PoseData:
    """LSP from `root/joints.mat` and `root/images/im0001.jpg...`; split 'train' (images 1-1000),
    'test' (1001-2000) or 'all'. LSP labels every joint, occluded ones too: v = 2 where the flag
    says visible (0), else v = 1. image_id and person id are the image number."""
    root = Path(root)
    if split not in LSP_SPLITS:
        raise DataError(f"read_lsp: unknown split '{split}'; choose from {sorted(LSP_SPLITS)}")
    path = root / "joints.mat"
    joints = _load_joints(path)
    if joints.shape != (3, 14, 2000):
        raise DataError(f"{path}: LSP 'joints' should have shape (3, 14, 2000), found {joints.shape}")
    joints = joints.transpose(2, 1, 0).copy()  # (2000, 14, 3)
    _check_finite(path, joints, "im{:04d}.jpg")
    joints[..., 2] = np.where(joints[..., 2] == 0, 2, 1)
    records = [_record(root / "images" / f"im{i + 1:04d}.jpg", i + 1, joints[i], path) for i in LSP_SPLITS[split]]
    return PoseData(records, get_keypoint_set("lsp14"), source=f"{path} ({split})")


def read_lspet(root: str | Path, limit: int | None = None) -> PoseData:
    """LSPET from `root/joints.mat` and `root/images/im00001.jpg...`, reading only images present
    (the .mat may list more images than the folder holds), at most `limit` of them.
    Flag 1 = labelled; joints with flag 0 (or a negative coordinate, LSPET's filler for
    unannotated joints) get v = 0 and zero coordinates. image_id and person id are the image number."""
    root = Path(root)
    path = root / "joints.mat"
    joints = _load_joints(path)
    if joints.ndim != 3 or joints.shape[:2] != (14, 3):
        raise DataError(f"{path}: LSPET 'joints' should have shape (14, 3, N), found {joints.shape}")
    joints = joints.transpose(2, 0, 1).copy()  # (N, 14, 3)
    if not len(joints):
        raise DataError(f"{path}: 'joints' lists no images")
    _check_finite(path, joints, "im{:05d}.jpg")
    labelled = (joints[..., 2] == 1) & (joints[..., :2] >= 0).all(axis=-1)
    joints[..., 2] = np.where(labelled, 2, 0)
    joints[~labelled] = 0
    image_dir = root / "images"
    try:
        present = set(os.listdir(image_dir))
    except OSError as exc:
        raise DataError(f"{image_dir}: cannot list the image folder ({exc.strerror})") from None
    records = []
    for i in range(len(joints)):
        if limit is not None and len(records) >= limit:
            break
        name = f"im{i + 1:05d}.jpg"
        if name in present:
            records.append(_record(image_dir / name, i + 1, joints[i], path))
    if not records:
        raise DataError(f"{image_dir}: none of the {len(joints)} images listed in {path} is present")
    return PoseData(records, get_keypoint_set("lsp14"), source=str(path))
