"""posekit.runtime: run a model exported by `posekit export` with numpy, OpenCV and onnxruntime only.

    import posekit.runtime
    predictor = posekit.runtime.load("model.onnx")                       # whole image = one person
    predictor = posekit.runtime.load("model.onnx", detector="rtmdet_nano_person_end2end.onnx")
    for person in predictor("photo.jpg"):                                 # or a BGR array
        person["keypoints"], person["bbox"], person["score"]

Nothing here imports torch, so it runs where torch is not installed; results match `posekit.load()`
on the same checkpoint. Top-down models only (SimCC and heatmap codecs).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from posekit.runtime.metadata import ModelMetadata
from posekit.runtime.predictor import Persons, RuntimePredictor

__all__ = ["load", "ModelMetadata", "Persons", "RuntimePredictor"]


def load(path: str | Path, detector: str | Path | Callable[[np.ndarray], np.ndarray] | None = None,
         threads: int = 0, flip_test: bool = True) -> RuntimePredictor:
    """A predictor for an ONNX file written by `posekit export`.

    detector: an end-to-end RTMDet ONNX path, or a callable RGB image -> (N, 5) x, y, w, h, score;
    None takes the whole image as the one person's box. threads: onnxruntime intra-op threads for
    the pose model and the detector (0 = onnxruntime's default). flip_test: also run the mirrored
    crops and average, as posekit.load() does by default.
    """
    return RuntimePredictor(path, detector, threads, flip_test)
