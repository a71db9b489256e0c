"""The semi-supervised papers' pools from a COCO keypoint file (PoseDual, SSPCM; methods.md 1e).

"1K/5K/10K labels" are the first N person *instances* of train2017, not images: the instances the
official COCO loader keeps (images in the file's order, each image's non-crowd person annotations in
theirs, with a positive area and at least one labelled keypoint), cut after N. The unlabeled pool is
every such instance, the labeled ones included. Both are written as COCO files whose annotations are
exactly those instances, so posekit's readers need no special case.
"""
from __future__ import annotations

from typing import Any

from posekit.data.records import DataError


def kept_instances(coco: dict, source: str = "annotations") -> list[dict]:
    """The instances the official loader keeps, in its order."""
    by_image: dict[Any, list[dict]] = {}
    for ann in coco.get("annotations", []):
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    kept = []
    for image in coco.get("images", []):
        for ann in by_image.get(image.get("id"), []):
            keypoints = ann.get("keypoints") or []
            box = ann.get("bbox") or [0, 0, 0, 0]
            if ann.get("iscrowd", 0) or float(ann.get("area", 0)) <= 0 or len(box) != 4 or min(box[2:]) < 0:
                continue
            if not any(v > 0 for v in keypoints[2::3]):
                continue
            kept.append(ann)
    if not kept:
        raise DataError(f"{source}: no person instance with a labelled keypoint")
    return kept


def _subset(coco: dict, annotations: list[dict], note: str) -> dict:
    ids = {ann["image_id"] for ann in annotations}
    info = dict(coco.get("info") or {})
    info["posekit_split"] = note
    return {**coco, "info": info, "images": [im for im in coco["images"] if im["id"] in ids],
            "annotations": annotations}


def semi_split(coco: dict, labeled: int, source: str = "annotations") -> tuple[dict, dict]:
    """(labeled, unlabeled) COCO dicts: the first `labeled` kept instances, and all kept instances."""
    if labeled <= 0:
        raise DataError(f"{source}: the labeled pool needs at least one instance, got {labeled}")
    kept = kept_instances(coco, source)
    if labeled > len(kept):
        raise DataError(f"{source}: {labeled} labeled instances asked for, only {len(kept)} have a keypoint")
    return (_subset(coco, kept[:labeled], f"first {labeled} person instances with a keypoint"),
            _subset(coco, kept, f"all {len(kept)} person instances with a keypoint (labeled ones included)"))
