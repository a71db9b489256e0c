"""The ceiling of a bottom-up codec: encode the ground truth into the outputs a perfect network
would give at inference resolution, decode them with the full grouping, score with OKS AP.

A codec takes part by providing `ideal_outputs(keypoints (N, K, 2), visible (N, K))` (raw outputs
for one image, in input pixels) and `decode_raw(outputs)` (-> [(keypoints (P, K, 3), scores (P,))]
in input pixels); it is built with `input_size` and `num_keypoints`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from posekit.codecs import build_codec
from posekit.data.readers.coco import read_coco
from posekit.data.transforms.geometry import apply_affine, invert_affine
from posekit.estimators.bottomup import test_resize_warp
from posekit.evaluation.coco import evaluate_coco
from posekit.evaluation.coco import load_json as load_coco_json


def codec_check(codec_name: str, gt_path: str | Path, keypoint_set: str | None = None, input_size: int = 512,
                codec_params: dict[str, Any] | None = None, max_images: int | None = None,
                results_path: str | Path | None = None) -> dict[str, Any]:
    """Returns the OKS stats of the decoded ideal outputs, the decode speed and counts; writes the
    decoded poses as a COCO results JSON to `results_path` when given."""
    data = read_coco(gt_path, keypoint_set=keypoint_set)
    kset = data.keypoint_set
    codecs: dict[tuple[int, int], Any] = {}
    results: list[dict] = []
    decode_seconds = 0.0
    records = data.records[:max_images] if max_images else data.records
    for record in records:
        warp, size = test_resize_warp(record.width, record.height, input_size)
        codec = codecs.get(size)
        if codec is None:
            codec = codecs[size] = build_codec(codec_name, input_size=size, num_keypoints=kset.num_keypoints,
                                               **(codec_params or {}))
        persons = [p for p in record.persons if not p.iscrowd and p.num_keypoints > 0]
        if persons:
            points = np.stack([p.keypoints[:, :2] for p in persons]).astype(np.float64)
            visible = np.stack([p.keypoints[:, 2] > 0 for p in persons])
            points = points @ warp[:, :2].T + warp[:, 2]
        else:
            points = np.zeros((0, kset.num_keypoints, 2))
            visible = np.zeros((0, kset.num_keypoints), bool)
        outputs = codec.ideal_outputs(points, visible)
        start = time.perf_counter()
        (keypoints, scores), = codec.decode_raw(outputs)
        decode_seconds += time.perf_counter() - start
        for person, score in zip(keypoints, scores):
            xy = apply_affine(person[:, :2], invert_affine(warp))
            results.append({"image_id": record.image_id, "category_id": 1, "score": float(score),
                            "keypoints": np.concatenate([xy, person[:, 2:3]], axis=1).ravel().tolist()})
    if results_path:
        Path(results_path).write_text(json.dumps(results))
    gt = load_coco_json(gt_path, "ground truth")
    if max_images:
        keep = {r.image_id for r in records}
        gt = {**gt, "images": [i for i in gt["images"] if i["id"] in keep],
              "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}
    stats = evaluate_coco(gt, results, kset.sigmas_array, gt_name=str(gt_path))
    return {"codec": codec_name, "gt": str(gt_path), "keypoint_set": kset.name, "input": input_size,
            "images": len(records), "persons_decoded": len(results),
            "decode_images_per_s": len(records) / max(decode_seconds, 1e-9), **stats}
