"""The estimator contract shared by every paradigm and every training strategy."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from posekit.keypoints import KeypointSet


class Estimator(nn.Module):
    """Model + codec + loss.

    - `forward(images)` returns the raw network outputs (what ONNX export traces).
    - `loss(batch)` returns a dict of scalar tensors whose 'loss' entry is what is optimised.
    - `predict(batch, flip_test)` returns one list of predictions per image in the batch, each a
      dict with 'image_id', 'keypoints' ((K, 3) x, y, score in original-image pixels) and 'score'.
    """

    default_metric = "AP"

    def __init__(self, model: nn.Module, codec: Any, keypoint_set: KeypointSet):
        super().__init__()
        self.model = model
        self.codec = codec
        self.keypoint_set = keypoint_set

    def forward(self, images: torch.Tensor) -> Any:
        return self.model(images)

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        raise NotImplementedError
