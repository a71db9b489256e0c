"""Adding a bottom-up method takes new files only: its model, codec, loss and estimator register
themselves (here all four are defined in this test module, standing in for models/toy.py,
codecs/toy.py, models/losses/toy.py and estimators/toy.py) and a config names the model. No posekit
file is edited: no zoo list, no codec list, no loss table, no estimator switch, no paradigm in the
config. This test trains and evaluates such a method through `posekit.experiment.train`."""
from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from posekit import experiment
from posekit.codecs import register_codec
from posekit.codecs.base import BottomUpCodec
from posekit.config import from_dict, ExperimentConfig
from posekit.data.transforms.preprocess import to_image
from posekit.estimators.base import Estimator, register_estimator
from posekit.models.losses import register_loss
from posekit.models.zoo import EstimatorKind, register_model

TOY = EstimatorKind("toy_peaks", "bottomup")


@register_model("toy-bottomup", estimator=TOY, input_size=(64, 64), keypoint_set="coco17",
                codec={"name": "toy_peaks"})
def toy_model(num_keypoints: int, input_size: tuple[int, int], width: int = 8) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(width, num_keypoints, 3, stride=2, padding=1))


@register_codec("toy_peaks")
class ToyPeaks:
    """One person per image: a Gaussian per keypoint at stride 4; decode takes each map's peak."""

    default_loss = "toy_mse"

    def __init__(self, input_size: tuple[int, int], num_keypoints: int, sigma: float = 1.0):
        self.input_size = tuple(input_size)
        self.output_sizes = [(input_size[0] // 4, input_size[1] // 4)]
        self.num_keypoints, self.sigma = num_keypoints, sigma

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        w, h = self.output_sizes[0]
        ys, xs = np.mgrid[:h, :w]
        maps = np.zeros((self.num_keypoints, h, w), np.float32)
        for person, seen in zip(keypoints / 4.0, visible):
            for k, ((x, y), v) in enumerate(zip(person, seen)):
                if v > 0:
                    maps[k] = np.maximum(maps[k], np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * self.sigma ** 2)))
        return {"heatmaps": maps}

    def decode(self, outputs: Any, flipped: Any = None, flip_index: Any = None) -> list:
        maps = np.asarray(outputs)
        b, k, h, w = maps.shape
        flat = maps.reshape(b, k, -1)
        index = flat.argmax(-1)
        points = np.stack([index % w, index // w], -1) * 4.0
        scores = flat.max(-1)
        return [(np.concatenate([points[i], scores[i, :, None]], -1)[None], scores[i].mean(keepdims=True))
                for i in range(b)]

    def ideal_outputs(self, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
        return self.encode(keypoints, visible)["heatmaps"][None]


@register_loss("toy_mse")
class ToyMSE(nn.Module):
    def __init__(self, codec: Any, keypoint_set: Any):
        super().__init__()

    def forward(self, outputs: torch.Tensor, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = ((outputs - batch["heatmaps"].to(outputs)) ** 2).mean()
        return {"loss": loss}


@register_estimator
class ToyPeaksEstimator(Estimator):
    kind = TOY
    codec_type = ToyPeaks
    default_metric = "AP"

    def __init__(self, model: nn.Module, codec: Any, keypoint_set: Any, loss_fn: Any):
        super().__init__(model, codec, keypoint_set)
        self.loss_fn = loss_fn

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.loss_fn(self.model(batch["image"]), batch)

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        decoded = self.codec.decode(self.model(batch["image"]).numpy())
        warps = np.asarray(batch["warp"], np.float64)
        return [[{"image_id": int(i), "keypoints": to_image(poses, warp)[0], "score": float(scores[0])}]
                for (poses, scores), warp, i in zip(decoded, warps, np.asarray(batch["image_id"]).tolist())]


def _data(tmp_path) -> str:
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i in (1, 2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
        points = np.c_[rng.uniform(10, 54, (17, 2)), np.full(17, 2)]
        images.append({"id": i, "file_name": f"{i}.png", "width": 64, "height": 64})
        annotations.append({"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
                            "keypoints": points.ravel().tolist(), "bbox": [8, 8, 48, 48], "area": 2304.0})
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return str(path)


def test_a_new_bottom_up_method_trains_without_editing_posekit(tmp_path):
    gt = _data(tmp_path)
    cfg = from_dict(ExperimentConfig, {
        "name": "toy", "out_dir": str(tmp_path / "run"), "model": {"name": "toy-bottomup"},
        "data": {"format": "coco", "train": gt, "val": gt, "keypoint_set": "coco17", "input_size": [64, 64],
                 "batch_size": 2, "workers": 0},
        "train": {"epochs": 1, "log_interval": 1, "flip_test": False}})
    assert cfg.paradigm is None and cfg.codec.name is None and cfg.loss.name is None
    estimator = experiment.build_estimator(cfg)
    assert isinstance(estimator, ToyPeaksEstimator) and isinstance(estimator.codec, BottomUpCodec)
    assert isinstance(estimator.loss_fn, ToyMSE)
    assert experiment.resolve_config(cfg).paradigm == "bottomup"
    summary = experiment.train(cfg, resume=False, progress=False)
    assert summary["iterations"] == 1 and 0.0 <= summary["final"]["AP"] <= 1.0
