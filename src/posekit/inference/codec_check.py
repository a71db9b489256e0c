"""The ceiling of a bottom-up codec: encode the ground truth into the outputs a perfect network
would give at inference resolution, decode them with the full grouping, score with OKS AP.

Any `codecs.base.BottomUpCodec` takes part: `ideal_outputs(keypoints (N, K, 2), visible (N, K))` gives
the outputs for one image in input pixels and `decode` turns them into [(keypoints (P, K, 3), scores
(P,))]; it is built for the file's keypoint set at each test input size. Top-down codecs have no
whole-image ideal outputs and are refused with a one-line error.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from posekit.codecs import SUPPLIED, available_codecs, codec_class, make_codec
from posekit.config import check_params
from posekit.data.readers.coco import read_coco
from posekit.data.transforms.geometry import apply_affine
from posekit.data.transforms.preprocess import Preprocess, coco_results, to_image
from posekit.evaluation.coco import evaluate_coco
from posekit.evaluation.coco import load_json as load_coco_json


def codec_check(codec_name: str, gt_path: str | Path, keypoint_set: str | None = None, input_size: int = 512,
                codec_params: dict[str, Any] | None = None, max_images: int | None = None,
                results_path: str | Path | None = None) -> dict[str, Any]:
    """Returns the OKS stats of the decoded ideal outputs, the decode speed and counts; writes the
    decoded poses as a COCO results JSON to `results_path` when given."""
    _check_codec(codec_name, codec_params or {})  # before reading the annotations
    data = read_coco(gt_path, keypoint_set=keypoint_set)
    kset = data.keypoint_set
    preprocess = Preprocess((input_size, input_size))  # the bottom-up test resize that predict and eval use
    codecs: dict[tuple[int, int], Any] = {}
    poses: list[dict] = []
    decode_seconds = 0.0
    records = data.records[:max_images] if max_images else data.records
    for record in records:
        warp, size = preprocess.resize_warp(record.width, record.height)
        codec = codecs.get(size)
        if codec is None:
            codec = codecs[size] = make_codec(codec_name, size, kset, dict(codec_params or {}))
        persons = [p for p in record.persons if not p.iscrowd and p.num_keypoints > 0]
        if persons:
            points = np.stack([p.keypoints[:, :2] for p in persons]).astype(np.float64)
            visible = np.stack([p.keypoints[:, 2] > 0 for p in persons])
            points = apply_affine(points, warp)
        else:
            points = np.zeros((0, kset.num_keypoints, 2))
            visible = np.zeros((0, kset.num_keypoints), bool)
        outputs = codec.ideal_outputs(points, visible)
        start = time.perf_counter()
        (keypoints, scores), = codec.decode(outputs)
        decode_seconds += time.perf_counter() - start
        poses += [{"image_id": record.image_id, "keypoints": person, "score": score}
                  for person, score in zip(to_image(keypoints, warp), scores)]
    results = coco_results(poses)
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


def _check_codec(name: str, params: dict[str, Any]) -> None:
    """A bottom-up codec (one with ideal outputs of a whole image) and params it takes."""
    cls = codec_class(name)
    if not callable(getattr(cls, "ideal_outputs", None)):
        bottom_up = [n for n in available_codecs() if callable(getattr(codec_class(n), "ideal_outputs", None))]
        raise ValueError(f"codec-check scores bottom-up codecs ({', '.join(bottom_up)}); '{name}' is a top-down "
                         "codec, whose outputs describe one person crop, not a whole image")
    check_params(cls, params, "codec.params", SUPPLIED)
