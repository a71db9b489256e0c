"""The two tools of the default model's GPU stage: the shrunk copy of the training data keeps every label
on its pixel, and the exported weights leave the optimiser behind but load as a checkpoint."""
from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
from shrink_training_data import shrink  # noqa: E402
from train_stage_on_gpu import export_weights  # noqa: E402

from posekit.training.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402


def write_set(root, joints):
    """One 400x300 photo, black but for a white 5x5 square on each labelled joint, and its COCO JSON."""
    pixels = np.zeros((300, 400, 3), np.uint8)
    for x, y in joints:
        pixels[y - 2:y + 3, x - 2:x + 3] = 255
    (root / "photos").mkdir()
    cv2.imwrite(str(root / "photos" / "a.png"), pixels)
    keypoints = [v for x, y in joints for v in (float(x), float(y), 2)]
    xs, ys = [x for x, _ in joints], [y for _, y in joints]
    bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    data = {"images": [{"id": 1, "file_name": "photos/a.png", "width": 400, "height": 300},
                       {"id": 2, "file_name": "photos/a.png", "width": 400, "height": 300}],  # a second copy
            "annotations": [{"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "num_keypoints": len(joints),
                             "bbox": bbox, "area": bbox[2] * bbox[3], "keypoints": keypoints} for i in (1, 2)],
            "categories": [{"id": 1, "name": "person"}]}
    (root / "train.json").write_text(json.dumps(data))
    return root / "train.json"


def test_shrunk_labels_stay_on_their_pixels(tmp_path):
    joints = [(100, 50), (300, 250), (200, 150)]  # joint box 200 px on its long side
    train = write_set(tmp_path, joints)
    done = shrink(train, tmp_path, tmp_path / "small", joint_cap=50.0, max_side=320, quality=95)
    assert done["files"] == 1  # the copy of the photo is written once
    data = json.loads((tmp_path / "small" / "train.json").read_text())
    assert {i["file_name"] for i in data["images"]} == {"photos/a.webp"}
    assert (data["images"][0]["width"], data["images"][0]["height"]) == (100, 75)
    small = cv2.imread(str(tmp_path / "small" / "photos" / "a.webp"), cv2.IMREAD_GRAYSCALE)
    assert small.shape == (75, 100)
    for annotation in data["annotations"]:
        keypoints = np.asarray(annotation["keypoints"]).reshape(-1, 3)
        for x, y, _ in keypoints:  # the brightest pixel near each label is its square, scaled down 4x
            patch = small[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3]
            assert patch.max() > 128
        assert np.allclose(annotation["bbox"], [25, 12.5, 50, 50])


def test_exported_weights_drop_the_optimiser(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    save_checkpoint({"strategy": {"estimator": model.state_dict()}, "optimizer": optimizer.state_dict(),
                     "scaler": {}, "rng": {}, "epoch": 4, "iteration": 4665}, tmp_path / "last.pt")
    export_weights(tmp_path / "last.pt", tmp_path / "weights.pt")
    state = load_checkpoint(tmp_path / "weights.pt")
    assert sorted(state) == ["epoch", "iteration", "strategy"]
    assert torch.equal(state["strategy"]["estimator"]["weight"], model.weight)
