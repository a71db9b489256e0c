"""The papers' pools: the first N person instances with a keypoint (the official loader's order and
filters), and an unlabeled pool of every such instance, labeled ones included."""
from __future__ import annotations

import json

import pytest

from posekit.cli import main
from posekit.data.records import DataError
from posekit.data.semi_split import semi_split


def _coco() -> dict:
    def ann(i, image, kpts=1, crowd=0, area=100.0):
        keypoints = [10, 10, 2] * kpts + [0, 0, 0] * (17 - kpts)
        return {"id": i, "image_id": image, "category_id": 1, "iscrowd": crowd, "area": area,
                "bbox": [0, 0, 10, 10], "keypoints": keypoints, "num_keypoints": kpts}
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 64} for i in (30, 10, 20)]  # file order
    annotations = [ann(1, 10), ann(2, 10, kpts=0), ann(3, 20, crowd=1), ann(4, 20, area=0.0), ann(5, 20),
                   ann(6, 30), ann(7, 30)]
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}


def test_first_instances_in_the_official_order_and_pool_with_them():
    labeled, unlabeled = semi_split(_coco(), 3)
    # images as the file lists them (30, 10, 20); no-keypoint, crowd and zero-area persons dropped
    assert [a["id"] for a in labeled["annotations"]] == [6, 7, 1]
    assert [im["id"] for im in labeled["images"]] == [30, 10]
    assert [a["id"] for a in unlabeled["annotations"]] == [6, 7, 1, 5]  # labeled ones included
    with pytest.raises(DataError, match="only 4 have a keypoint"):
        semi_split(_coco(), 5)


def test_cli_writes_both_pools(tmp_path, capsys):
    src = tmp_path / "train.json"
    src.write_text(json.dumps(_coco()))
    assert main(["convert", "semi-split", str(src), str(tmp_path / "semi.json"), "--labeled", "2", "--json"]) == 0
    assert [a["id"] for a in json.loads((tmp_path / "semi_labeled2.json").read_text())["annotations"]] == [6, 7]
    assert len(json.loads((tmp_path / "semi_unlabeled.json").read_text())["annotations"]) == 4


def test_unlabeled_coco_pool_keeps_persons_with_keypoints(tmp_path):
    import cv2
    import numpy as np

    from posekit.config import ExperimentConfig, from_dict
    from posekit.training.strategies.semi_common import SemiParams, build_unlabeled_dataset
    for im in (10, 20, 30):
        cv2.imwrite(str(tmp_path / f"{im}.jpg"), np.zeros((64, 64, 3), np.uint8))
    coco = _coco()
    (tmp_path / "pool.json").write_text(json.dumps(coco))
    cfg = from_dict(ExperimentConfig, {"data": {"input_size": [32, 32]}})
    params = from_dict(SemiParams, {"unlabeled": {"format": "coco", "path": str(tmp_path / "pool.json"),
                                                  "images": str(tmp_path)}})
    assert len(build_unlabeled_dataset(cfg, params)) == 5  # every non-crowd person with a keypoint
    params.unlabeled.min_keypoints = 0
    assert len(build_unlabeled_dataset(cfg, params)) == 6  # every non-crowd box, as for a detector's output
