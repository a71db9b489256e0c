"""The estimator contract shared by every paradigm and every training strategy."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from posekit.data.transforms.preprocess import Preprocess, to_image
from posekit.keypoints import KeypointSet
from posekit.registry import Registry

# Estimator classes by the zoo's EstimatorKind they implement (each class declares `kind`).
_ESTIMATORS: Registry[type] = Registry("estimator kind", "posekit.estimators",
                                       key_name=lambda kind: getattr(kind, "name", str(kind)))


def register_estimator(cls: type) -> type:
    """Class decorator: `cls` builds the zoo entries whose estimator kind is `cls.kind`."""
    return _ESTIMATORS.add(cls.kind, cls)


def estimator_class(kind: Any) -> type:
    """The registered class for a zoo entry's estimator kind (every estimator module is imported first,
    so a new estimator is a new file); KeyError listing the kinds that have one."""
    return _ESTIMATORS[kind]


def grouped_persons(decoded: Any, batch: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """A bottom-up decoder's per-image (persons (P, K, 3) in network-input pixels, scores (P,)) as
    `Estimator.predict` returns them: per image, dicts of image_id, keypoints mapped back to the
    original image through batch['warp'], and the person's score."""
    warps = np.asarray(batch["warp"], np.float64)
    image_ids = np.asarray(batch["image_id"]).tolist()
    results = []
    for (persons, scores), warp, image_id in zip(decoded, warps, image_ids):
        persons = to_image(persons, warp)
        results.append([{"image_id": int(image_id), "keypoints": persons[p], "score": float(scores[p])}
                        for p in range(len(persons))])
    return results


class Estimator(nn.Module):
    """Model + codec + loss.

    - `forward(images)` returns the raw network outputs (what ONNX export traces).
    - `loss(batch)` returns a dict of scalar tensors whose 'loss' entry is what is optimised.
    - `predict(batch, flip_test)` returns one list of predictions per image in the batch, each a
      dict with 'image_id', 'keypoints' ((K, 3) x, y, score in original-image pixels) and 'score'.
    - `preprocess`: the posekit.data.transforms.preprocess.Preprocess its inputs are made with.
    """

    default_metric = "AP"

    def __init__(self, model: nn.Module, codec: Any, keypoint_set: KeypointSet):
        super().__init__()
        self.model = model
        self.codec = codec
        self.keypoint_set = keypoint_set
        # How images become this network's input (as torchvision's weights carry their transforms): the
        # codec's input size with the default box padding, until experiment.set_preprocess or a model
        # file sets the trained one. Predictor reads it, so no caller restates it.
        size = getattr(codec, "input_size", None)
        self.preprocess: Preprocess | None = Preprocess(size) if size is not None else None

    def forward(self, images: torch.Tensor) -> Any:
        """Raw network outputs for a normalised (B, 3, H, W) batch; no decoding."""
        return self.model(images)

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Scalar loss tensors for a training batch; the 'loss' entry is the one optimised."""
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        """Per image of the batch, its person dicts: image_id, keypoints (K, 3) x, y, score in
        original-image pixels, and score."""
        raise NotImplementedError
