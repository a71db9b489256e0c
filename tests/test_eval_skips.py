"""Evaluation never credits one image's predictions to another: an unreadable validation image is
skipped and counted (training still replaces a bad sample by the next readable one)."""
from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from posekit.data.datasets import BottomUpDataset, TopDownDataset
from posekit.data.readers import read_coco
from posekit.estimators.topdown import build_topdown_estimator
from posekit.experiment import predict_all


def _coco(tmp_path, persons_per_image=(1, 2, 1)):
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i, count in enumerate(persons_per_image, start=1):
        path = tmp_path / f"im{i}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 255, (60, 50, 3), dtype=np.uint8))
        images.append({"id": i, "file_name": path.name, "width": 50, "height": 60})
        for j in range(count):
            kpts = []
            for k in range(17):
                kpts += [10.0 + k + 5 * j, 10.0 + 2 * k, 2]
            annotations.append({"id": 10 * i + j, "image_id": i, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
                                "keypoints": kpts, "bbox": [5.0 + 5 * j, 5.0, 30.0, 45.0], "area": 1350.0})
    (tmp_path / "im2.jpg").write_bytes(b"\xff\xd8 not really a jpeg")  # image 2 (two persons) is corrupt
    gt = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    return read_coco(tmp_path / "gt.json", tmp_path)


def test_topdown_evaluation_skips_and_counts_an_unreadable_image(tmp_path, capsys):
    data = _coco(tmp_path)
    torch.manual_seed(0)
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 64))
    dataset = TopDownDataset(data, (64, 64), estimator.codec, train=False)
    predictions = predict_all(estimator, DataLoader(dataset, batch_size=4), False, torch.device("cpu"),
                              progress=False)
    assert sorted(p["image_id"] for p in predictions) == [1, 3]  # nothing credited to image 2, nor moved
    assert predictions.skipped == 2  # both persons of the unreadable image
    err = capsys.readouterr().err
    assert "im2.jpg" in err and "skips" in err and err.count("posekit: warning:") == 1


def test_training_still_replaces_an_unreadable_sample(tmp_path):
    data = _coco(tmp_path)
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 64))
    dataset = TopDownDataset(data, (64, 64), estimator.codec, train=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = dataset[1]  # image 2's first person -> the next readable sample
    assert not sample["skipped"] and sample["image_id"] == 3  # image 2's persons are replaced by image 3's


def test_bottomup_evaluation_marks_the_unreadable_image(tmp_path):
    from posekit.codecs import build_codec
    data = _coco(tmp_path)
    codec = build_codec("associative_embedding", input_size=(64, 64), num_keypoints=17)
    dataset = BottomUpDataset(data, 64, codec, train=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flags = {int(dataset[i]["image_id"]): bool(dataset[i]["skipped"]) for i in range(len(dataset))}
    assert flags == {1: False, 2: True, 3: False}
