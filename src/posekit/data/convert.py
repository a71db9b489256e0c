"""PoseData -> COCO keypoint JSON, the interchange format every posekit tool reads."""
from __future__ import annotations

import json
import os
from pathlib import Path

from posekit.data.records import DataError, PoseData
from posekit.keypoints import WHOLEBODY_PARTS

PERSON_CATEGORY_ID = 1


def _rounded(values, digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in values]


def to_coco_dict(data: PoseData, image_root: str | Path | None = None) -> dict:
    """A standard COCO keypoint dict: images, annotations (flat keypoints, num_keypoints, bbox, area,
    iscrowd, id) and one person category with keypoint names and a 1-based skeleton.

    file_name is absolute, or relative to image_root when given. COCO-WholeBody data is written in
    its own layout (17 body points in 'keypoints', then foot_kpts, face_kpts, lefthand_kpts,
    righthand_kpts) so that its evaluation tools read it. Person ids are kept when they are unique
    and non-negative, else annotations are numbered from 1."""
    kset = data.keypoint_set
    persons = [p for r in data.records for p in r.persons]
    ids = [p.id for p in persons]
    keep_ids = all(i >= 0 for i in ids) and len(set(ids)) == len(ids)
    wholebody = kset.name == "coco_wholebody133"
    images, annotations = [], []
    for record in data.records:
        file_name = record.file_name if image_root is None else os.path.relpath(record.file_name, image_root)
        images.append({"id": int(record.image_id), "file_name": file_name,
                       "width": int(record.width), "height": int(record.height)})
        for person in record.persons:
            ann = {"id": int(person.id) if keep_ids else len(annotations) + 1, "image_id": int(record.image_id),
                   "category_id": PERSON_CATEGORY_ID, "iscrowd": int(person.iscrowd),
                   "num_keypoints": person.num_keypoints, "bbox": _rounded(person.bbox, 2),
                   "area": round(float(person.area), 2)}
            flat = [[round(float(x), 3), round(float(y), 3), int(v)] for x, y, v in person.keypoints]
            if wholebody:
                start = 0
                for key, count in WHOLEBODY_PARTS:
                    ann[key] = [value for point in flat[start:start + count] for value in point]
                    start += count
            else:
                ann["keypoints"] = [value for point in flat for value in point]
            if person.segmentation is not None:
                ann["segmentation"] = person.segmentation
            annotations.append(ann)
    body_names = kset.names[:17] if wholebody else kset.names
    category = {"id": PERSON_CATEGORY_ID, "name": "person", "supercategory": "person",
                "keypoints": list(body_names),
                "skeleton": [[a + 1, b + 1] for a, b in kset.skeleton
                             if a < len(body_names) and b < len(body_names)]}
    return {"info": {"description": f"written by posekit from {data.source or 'memory'}",
                     "keypoint_set": kset.name},
            "images": images, "annotations": annotations, "categories": [category]}


def check_out_file(path: str | Path, what: str = "the output") -> Path:
    """An output file's path, its folder created, checked before any work is done: a folder in its
    place, a folder that cannot be created (a file on the way) or one that is not writable is a
    DataError naming the path and `what` (e.g. '--out'), not a traceback once the work is done."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: {what} names a folder; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = ("a file stands where a folder is needed" if isinstance(exc, (FileExistsError, NotADirectoryError))
                  else exc.strerror or str(exc))
        raise DataError(f"{path}: cannot create the folder for {what} ({reason})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DataError(f"{path}: the folder for {what} is not writable")
    return path


def write_coco(data: PoseData, path: str | Path, image_root: str | Path | None = None) -> Path:
    """Write to_coco_dict(data) to `path` atomically (a temporary file renamed over it)."""
    path = check_out_file(path)
    # Same folder, so the rename is atomic; a reader never sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w") as f:
            try:
                # NaN and Infinity are not JSON: other tools refuse files holding them.
                json.dump(to_coco_dict(data, image_root), f, allow_nan=False)
            except ValueError:
                raise DataError(f"{path}: not written: the data holds NaN or infinite numbers "
                                f"(from {data.source or 'memory'})") from None
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
