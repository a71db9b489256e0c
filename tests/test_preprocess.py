"""posekit.data.transforms.preprocess: the one preprocessing that datasets, `posekit eval`, `posekit
predict`, the codec check and posekit.runtime share. Crops and resizes map points there and back, the
dataset crops what the Predictor crops, the Predictor takes the estimator's own padding, and a
bottom-up network gets the same input (so gives the same poses) under eval and predict."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import yaml

from posekit.config import AugmentConfig
from posekit.data.datasets import TopDownDataset
from posekit.data.records import ImageRecord, Person, PoseData
from posekit.data.transforms import apply_affine
from posekit.data.transforms.preprocess import (
    BBOX_PADDING, Preprocess, coco_results, normalize, short_side_resize, to_image,
)
from posekit.keypoints import get_keypoint_set

from conftest import REPO

COCO = get_keypoint_set("coco17")


def test_the_box_padding_default_lives_in_one_place():
    # config sits below data, so AugmentConfig states the default again; it must be this one.
    assert AugmentConfig().bbox_padding == BBOX_PADDING == Preprocess((192, 256)).bbox_padding


def test_crop_round_trip_points_and_pixels():
    preprocess = Preprocess((48, 64), bbox_padding=1.25)
    box = (30.0, 40.0, 60.0, 90.0)
    center, scale = preprocess.center_scale(box)
    np.testing.assert_allclose(center, [60.0, 85.0])
    # 60 x 90 padded 1.25 -> 75 x 112.5, grown to the input's 3:4 -> 84.375 x 112.5
    np.testing.assert_allclose(scale, [84.375, 112.5])
    rng = np.random.default_rng(0)
    points = rng.uniform([30, 40], [90, 130], (20, 2))
    warp = preprocess.crop_warp(box)
    in_crop = apply_affine(points, warp)
    assert in_crop.min() >= 0 and (in_crop < [48, 64]).all()  # the padded box holds the whole box
    np.testing.assert_allclose(to_image(in_crop, warp), points, atol=1e-9)
    # The crop's content is where the warp says: a smooth bright blob (no aliasing) centred on (70, 100).
    ys, xs = np.mgrid[:200, :160]
    blob = 255 * np.exp(-((xs - 70.0) ** 2 + (ys - 100.0) ** 2) / (2 * 6.0 ** 2))
    image = np.repeat(blob.round().astype(np.uint8)[..., None], 3, axis=2)
    crop, crop_warp = preprocess.crop(image, box)
    assert crop.shape == (64, 48, 3) and np.array_equal(crop_warp, warp)
    weights = crop[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:64, :48]
    centroid = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    np.testing.assert_allclose(centroid, apply_affine(np.array([70.0, 100.0]), warp), atol=0.05)


def test_to_image_batched_keeps_scores_and_inverts_like_cv2():
    rng = np.random.default_rng(1)
    preprocess = Preprocess((64, 64))
    boxes = rng.uniform([0, 0, 20, 20], [100, 100, 80, 120], (3, 4))
    warps = np.stack([preprocess.crop_warp(b) for b in boxes])
    keypoints = np.concatenate([rng.uniform(0, 63, (3, 5, 2)), rng.random((3, 5, 1))], axis=-1)
    mapped = to_image(keypoints, warps)
    for i, warp in enumerate(warps):
        inverse = cv2.invertAffineTransform(warp)
        np.testing.assert_allclose(mapped[i, :, :2], keypoints[i, :, :2] @ inverse[:, :2].T + inverse[:, 2], atol=1e-9)
        np.testing.assert_allclose(mapped[i], to_image(keypoints[i], warp))  # one warp for all points
    np.testing.assert_array_equal(mapped[..., 2], keypoints[..., 2])
    assert to_image(np.zeros((0, 17, 3)), warps[0]).shape == (0, 17, 3)


def test_short_side_resize_is_the_published_one():
    warp, size = short_side_resize(640, 480, 512)
    assert size == (704, 512)  # 640 * 512 / 480 = 682.7 -> the next multiple of 64
    np.testing.assert_allclose(warp[:, :2], np.eye(2) * 512 / 480)
    np.testing.assert_allclose(apply_affine(np.array([320.0, 240.0]), warp), [352.0, 256.0])  # centred
    warp, size = Preprocess((128, 128)).resize_warp(300, 500)
    assert size == (128, 256)
    resized, resize_warp = Preprocess((128, 128)).resize_image(np.zeros((500, 300, 3), np.uint8))
    assert resized.shape == (256, 128, 3) and np.array_equal(resize_warp, warp)
    with pytest.raises(ValueError, match="unknown resize 'letterbox'"):
        Preprocess((128, 128), resize="letterbox")


def test_normalize_bgr_and_batches():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (2, 8, 6, 3), dtype=np.uint8)
    one = normalize(images[0])
    assert one.shape == (3, 8, 6) and one.dtype == np.float32
    np.testing.assert_allclose(one[:, 3, 2], (images[0, 3, 2] - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375],
                               rtol=1e-5)
    np.testing.assert_array_equal(normalize(images), np.stack([normalize(i) for i in images]))
    np.testing.assert_array_equal(normalize(images[..., ::-1], rgb=False), normalize(images))


def test_coco_results_rows():
    predictions = [{"image_id": np.int64(3), "keypoints": np.array([[1.23456, 2.0, 0.5]]), "score": 0.1234567},
                   {"image_id": 4, "keypoints": np.zeros((1, 3)), "score": 1, "category_id": 2, "file_name": "a.jpg"}]
    rows = coco_results(predictions)
    assert rows[0] == {"image_id": 3, "category_id": 1, "keypoints": [1.23456, 2.0, 0.5], "score": 0.1234567}
    assert rows[1] == {"image_id": 4, "file_name": "a.jpg", "category_id": 2, "keypoints": [0.0] * 3, "score": 1.0}
    rounded = coco_results(predictions, category_id=7, rounded=True)
    assert rounded[0]["keypoints"] == [1.235, 2.0, 0.5] and rounded[0]["score"] == 0.12346
    assert rounded[0]["category_id"] == 7
    json.dumps(rows + rounded)  # plain JSON types only


def test_topdown_dataset_crops_what_the_predictor_crops(tmp_path):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), image[..., ::-1])
    keypoints = np.column_stack([rng.uniform(40, 70, (17, 2)), np.full(17, 2.0)]).astype(np.float32)
    person = Person(keypoints, np.array([35, 20, 40, 50], np.float32))
    data = PoseData([ImageRecord(1, str(path), 120, 90, [person])], COCO, "pp")

    class Codec:
        def encode(self, keypoints, visible):
            return {}

    sample = TopDownDataset(data, (48, 64), Codec(), augment=AugmentConfig(bbox_padding=1.1))[0]
    preprocess = Preprocess((48, 64), 1.1)
    crop, warp = preprocess.crop(image, person.bbox)
    np.testing.assert_array_equal(sample["warp"].numpy(), warp)
    np.testing.assert_array_equal(sample["image"].numpy(), normalize(crop))


class _RecordingPerson(torch.nn.Module):
    """An estimator stand-in that records the warps it is given and finds nobody special."""

    def __init__(self, preprocess):
        super().__init__()
        self.preprocess = preprocess
        self.warps = []

    def predict(self, batch, flip_test=True):
        self.warps.extend(np.asarray(batch["warp"]))
        return [[{"image_id": int(i), "keypoints": np.zeros((17, 3)), "score": 0.0}] for i in batch["image_id"]]


def test_predictor_takes_the_estimators_padding_unless_overridden():
    from posekit.inference.api import PoseModel
    from posekit.inference.predictor import Predictor
    estimator = _RecordingPerson(Preprocess((64, 64), bbox_padding=1.0))
    box = np.array([[10.0, 20.0, 30.0, 50.0]])
    predictor = Predictor(estimator, "topdown")
    assert predictor.input_size == (64, 64) and predictor.padding == 1.0
    predictor(np.zeros((100, 100, 3), np.uint8), boxes=box)
    np.testing.assert_array_equal(estimator.warps[-1], Preprocess((64, 64), 1.0).crop_warp(box[0]))
    wider = Predictor(estimator, "topdown", padding=1.5)  # an explicit padding still wins
    wider(np.zeros((100, 100, 3), np.uint8), boxes=box)
    np.testing.assert_array_equal(estimator.warps[-1], Preprocess((64, 64), 1.5).crop_warp(box[0]))
    assert PoseModel(estimator, "topdown").predictor.padding == 1.0
    with pytest.raises(ValueError, match="pass input_size"):
        Predictor(_RecordingPerson(None), "topdown")


def _bottomup_run(tmp_path):
    """A random tiny HigherHRNet checkpoint, its config, and a 150 x 100 photo with one annotated person
    (not square, so the published resize and a letterbox would differ)."""
    from posekit.config import load_config, to_dict
    from posekit.experiment import build_estimator
    from posekit.training.checkpoint import save_checkpoint
    images = tmp_path / "images"
    images.mkdir()
    photo = np.random.default_rng(4).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    cv2.imwrite(str(images / "photo.png"), photo)
    keypoints = np.column_stack([np.linspace(60, 90, 17), np.linspace(20, 80, 17), np.full(17, 2)])
    gt = {"images": [{"id": 7, "file_name": "photo.png", "width": 150, "height": 100}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "bbox": [60, 20, 30, 60],
                           "area": 1800, "num_keypoints": 17, "keypoints": keypoints.ravel().tolist()}],
          "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    cfg = load_config(REPO / "configs" / "higherhrnet-w32_coco-512.yaml",
                      ["data.input_size=[128,128]", "model.params={width: 8}", f"data.val={tmp_path / 'gt.json'}",
                       f"data.val_images={images}", "data.workers=0"])
    torch.manual_seed(0)
    estimator = build_estimator(cfg)
    for m in estimator.modules():  # PyTorch's default init instead of HRNet's std 0.001: maps far from 0
        if isinstance(m, torch.nn.Conv2d):
            m.reset_parameters()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    checkpoint = tmp_path / "random.pt"
    save_checkpoint({"strategy": {}, "estimator": estimator.state_dict(), "metadata": {"experiment": to_dict(cfg)}},
                    checkpoint)
    return config, checkpoint, images / "photo.png"


def test_eval_and_predict_give_a_bottomup_model_the_same_poses(tmp_path, capsys):
    from posekit.cli import main
    config, checkpoint, photo = _bottomup_run(tmp_path)
    evaluated = tmp_path / "eval.json"
    assert main(["eval", str(config), "--checkpoint", str(checkpoint), "--device", "cpu",
                 "--results", str(evaluated)]) == 0
    assert main(["predict", str(photo), "--checkpoint", str(checkpoint), "--device", "cpu", "--no-draw",
                 "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    by_eval = json.loads(evaluated.read_text())
    by_predict = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(by_eval) > 0 and len(by_eval) == len(by_predict)
    for e, p in zip(by_eval, by_predict):
        assert (e["image_id"], p["image_id"]) == (7, 0)
        assert e["keypoints"] == p["keypoints"] and e["score"] == p["score"]


def test_whole_image_padding_applies_to_the_whole_image_only():
    """A model file pads a person box as its training crops were padded, and the whole image (no
    detector, no boxes) by its own factor: the two framings differ (a shipped model once cropped
    detector boxes with the whole image's 1.0 and lost a third of its score)."""
    box = (10.0, 20.0, 60.0, 80.0)
    both = Preprocess((64, 64), bbox_padding=1.25, whole_image_padding=1.0)
    _, person = both.center_scale(box)
    _, whole = both.center_scale(box, whole_image=True)
    np.testing.assert_allclose(person, [100.0, 100.0])  # 80 x 1.25, squared to the input's 1:1
    np.testing.assert_allclose(whole, [80.0, 80.0])
    default = Preprocess((64, 64), bbox_padding=1.25)  # no whole-image factor: the person-box one
    np.testing.assert_allclose(default.center_scale(box, whole_image=True)[1], person)
    np.testing.assert_array_equal(both.crop_warp(box), default.crop_warp(box))
    with pytest.raises(ValueError, match="whole_image_padding"):
        Preprocess((64, 64), whole_image_padding=0.0)
