"""Ignore regions of a bottom-up image: crowd areas and persons annotated without keypoints."""
from __future__ import annotations

import warnings

import numpy as np
from pycocotools import mask as mask_utils

from posekit.data.records import DataError, ImageRecord, Person


def _bbox_mask(bbox: np.ndarray, height: int, width: int) -> np.ndarray:
    x, y, w, h = (float(v) for v in bbox[:4])
    out = np.zeros((height, width), dtype=np.uint8)
    x1, y1 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
    x2, y2 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
    out[y1:y2, x1:x2] = 1
    return out


def person_mask(person: Person, height: int, width: int, file_name: str = "") -> np.ndarray:
    """(height, width) uint8 mask of a person's segmentation (COCO polygons, uncompressed or
    compressed RLE), or of its box when it has no segmentation."""
    seg = person.segmentation
    if seg is None or (isinstance(seg, (list, tuple)) and len(seg) == 0):
        return _bbox_mask(person.bbox, height, width)
    try:
        if isinstance(seg, dict) and isinstance(seg.get("counts"), (str, bytes)):
            counts = seg["counts"].encode() if isinstance(seg["counts"], str) else seg["counts"]
            rle = {"size": list(seg["size"]), "counts": counts}
        else:
            rle = mask_utils.frPyObjects(seg, height, width)
            if isinstance(rle, list):
                rle = mask_utils.merge(rle)
        with warnings.catch_warnings():
            # pycocotools' decode trips a numpy-2 DeprecationWarning (copy=False); the result is right.
            warnings.simplefilter("ignore", DeprecationWarning)
            mask = mask_utils.decode(rle)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise DataError(f"{file_name}: malformed segmentation of annotation {person.id}: {exc}") from None
    if mask.shape != (height, width):
        raise DataError(f"{file_name}: segmentation of annotation {person.id} is {mask.shape[1]}x{mask.shape[0]}, "
                        f"the image is {width}x{height}")
    return mask


def ignore_mask(record: ImageRecord, height: int, width: int) -> np.ndarray | None:
    """uint8 (height, width), 1 where the loss should ignore the image (crowd regions, persons with no
    labelled keypoints), as HigherHRNet's COCO dataset builds it; None when nothing is ignored."""
    regions = [p for p in record.persons if p.iscrowd or p.num_keypoints == 0]
    if not regions:
        return None
    out = np.zeros((height, width), dtype=np.uint8)
    for person in regions:
        out |= person_mask(person, height, width, record.file_name)
    return out
