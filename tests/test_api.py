"""The Python API: posekit.load() / model(image) / posekit.draw(), on tiny model files the tests write
and on the shipped default model."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import posekit
from posekit.estimators.topdown import build_topdown_estimator
from posekit.inference.api import Persons, load
from posekit.inference.model_file import (DEFAULT_MODEL, model_file_state, read_model_file, save_model_file)

from conftest import DATA, REPO, require

SIMCC = {"name": "simcc", "split_ratio": 2.0, "normalize": False}
EXPECTED = Path(__file__).with_name("data") / "default_model_expected.json"


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 64))
    for m in estimator.model.head.modules():  # O(1) logits, so decoded points are not all equal
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model_file(model_file_state(estimator, "rtmpose-t", (64, 64), 1.0, SIMCC, half=False), path)
    return path


def _image(seed: int = 0, size: tuple[int, int] = (90, 120)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)


def test_model_file_round_trip_keeps_preprocessing(tiny_model_file):
    state = read_model_file(tiny_model_file)
    assert state["input_size"] == [64, 64] and state["bbox_padding"] == 1.0 and state["keypoint_set"] == "coco17"
    model = load(tiny_model_file)
    assert model.input_size == (64, 64) and model.predictor.padding == 1.0
    assert model.keypoint_set.name == "coco17" and len(model.keypoint_set.skeleton) > 0


def test_call_returns_person_dicts_in_image_pixels(tiny_model_file):
    model = load(tiny_model_file)
    image = _image()
    persons = model(image)
    assert isinstance(persons, Persons) and persons.keypoint_set is model.keypoint_set
    assert len(persons) == 1  # no detector: the whole image is the one box
    person = persons[0]
    assert person["keypoints"].shape == (17, 3) and person["keypoints"].dtype == np.float32
    assert person["bbox"] == (0.0, 0.0, 120.0, 90.0)
    assert isinstance(person["score"], float)
    x, y = person["keypoints"][:, 0], person["keypoints"][:, 1]
    assert (x >= -1).all() and (x <= 121).all() and (y >= -1).all() and (y <= 91).all()


def test_bgr_array_path_and_rgb_agree(tiny_model_file, tmp_path):
    model = load(tiny_model_file)
    image = _image(1)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), image)  # PNG: lossless, so the same pixels come back
    from_bgr = model(image)[0]["keypoints"]
    from_path = model(str(path))[0]["keypoints"]
    from_rgb = model(image[..., ::-1].copy(), rgb=True)[0]["keypoints"]
    np.testing.assert_allclose(from_bgr, from_path, atol=1e-5)
    np.testing.assert_allclose(from_bgr, from_rgb, atol=1e-5)
    swapped = model(image[..., ::-1].copy())[0]["keypoints"]  # channels swapped: the input really differs
    assert np.abs(swapped - from_bgr).max() > 1e-3


def test_grayscale_and_alpha_arrays_run_as_their_colour_image(tiny_model_file):
    """A grayscale frame (H x W or H x W x 1) runs as its three-channel copy, and a fourth (alpha) channel
    is dropped, as cv2.imread does with such files; float or 2-channel arrays stay an error."""
    model = load(tiny_model_file)
    gray = _image(2)[..., 0].copy()
    colour = model(np.repeat(gray[..., None], 3, axis=2))[0]["keypoints"]
    np.testing.assert_array_equal(model(gray)[0]["keypoints"], colour)
    np.testing.assert_array_equal(model(gray[..., None])[0]["keypoints"], colour)
    bgr = _image(3)
    bgra = np.concatenate([bgr, np.full(bgr.shape[:2] + (1,), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(model(bgra)[0]["keypoints"], model(bgr)[0]["keypoints"])
    np.testing.assert_array_equal(model(bgra[..., ::-1].copy()[..., 1:], rgb=True)[0]["keypoints"],
                                  model(bgr)[0]["keypoints"])  # RGB without the alpha: same pixels
    drawn = posekit.draw(bgra, model(bgra))
    assert drawn.shape == bgr.shape
    for bad in (bgr.astype(np.float32), bgr[..., :2], np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(ValueError, match=r"H x W x 3 uint8 .* got shape"):
            model(bad)


def test_list_of_images_gives_one_result_per_image(tiny_model_file):
    model = load(tiny_model_file)
    images = [_image(2), _image(3, (64, 80))]
    results = model(images)
    assert len(results) == 2
    for image, persons in zip(images, results):
        np.testing.assert_allclose(persons[0]["keypoints"], model(image)[0]["keypoints"], atol=1e-5)


def test_boxes_override_the_whole_image(tiny_model_file):
    model = load(tiny_model_file)
    persons = model(_image(4), boxes=np.array([[10, 5, 40, 60], [50, 20, 30, 30]], dtype=float))
    assert [p["bbox"] for p in persons] == [(10.0, 5.0, 40.0, 60.0), (50.0, 20.0, 30.0, 30.0)]


def test_draw_keeps_channel_order_and_uses_the_skeleton(tiny_model_file):
    model = load(tiny_model_file)
    image = np.zeros((120, 160, 3), np.uint8)
    persons = Persons([{"keypoints": np.array([[20, 20, 1.0]] * 5 + [[40, 40, 1.0], [120, 40, 1.0]] + [[0, 0, 0.0]] * 10,
                                              dtype=np.float32), "bbox": (0.0, 0.0, 160.0, 120.0), "score": 1.0}],
                      model.keypoint_set)
    drawn = posekit.draw(image, persons, boxes=False)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert drawn[40, 80].any()  # the shoulder-shoulder link between (40, 40) and (120, 40) is drawn
    assert not drawn[100, 80].any()
    with pytest.raises(ValueError, match="keypoint_set"):
        posekit.draw(image, [dict(persons[0])])


def test_load_zoo_name_with_weights_and_clear_errors(tiny_model_file, tmp_path):
    assert load("rtmpose-t", weights=tiny_model_file).keypoint_set.name == "coco17"
    with pytest.raises(ValueError, match="not 'rtmpose-s'"):
        load("rtmpose-s", weights=tiny_model_file)
    with pytest.raises(ValueError, match="weights="):
        load("rtmpose-t")
    with pytest.raises(FileNotFoundError, match="neither a file nor a zoo model"):
        load(tmp_path / "missing.pt")
    for source in (None, "default", tiny_model_file):  # weights a file would drop: an error, not ignored
        with pytest.raises(ValueError, match="weights= goes with a zoo name"):
            load(source, weights=tiny_model_file)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt") as error:
        load(junk)
    assert "\n" not in str(error.value)  # one line, not torch's multi-line unpickling report
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        load(tiny_model_file)(np.zeros((10, 10), np.int16))


def test_load_default_by_the_name_models_lists(tmp_path, monkeypatch):
    """`posekit models` and `posekit export default` name the shipped model "default"; so does load(),
    unless a file of that name is in the working directory (a path wins, as everywhere)."""
    shipped, named = load(), load("default")
    assert named.keypoint_set.name == shipped.keypoint_set.name
    assert named.estimator.model.state_dict().keys() == shipped.estimator.model.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(named.estimator.model.state_dict().values(),
                                                 shipped.estimator.model.state_dict().values()))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="default"):
        load("default")


def test_load_training_checkpoint_uses_its_padding(tmp_path):
    from posekit.config import ExperimentConfig, from_dict, to_dict
    from posekit.training.checkpoint import save_checkpoint
    cfg = from_dict(ExperimentConfig, {"model": {"name": "rtmpose-t"}, "data": {
        "keypoint_set": "lsp14", "input_size": [64, 64], "augment": {"bbox_padding": 1.1}}})
    estimator = build_topdown_estimator("rtmpose-t", "lsp14", (64, 64))
    path = tmp_path / "run.pt"
    save_checkpoint({"strategy": {}, "estimator": estimator.state_dict(),
                     "metadata": {"experiment": to_dict(cfg)}}, path)
    model = load(path)
    assert model.predictor.padding == 1.1 and model.keypoint_set.name == "lsp14" and model.paradigm == "topdown"


# ------------------------------------------------------------------------------ the shipped model
def test_shipped_model_file_is_small_and_safe():
    assert DEFAULT_MODEL.is_file(), f"{DEFAULT_MODEL} is missing: the package ships its default model"
    assert DEFAULT_MODEL.stat().st_size < 15e6
    state = read_model_file(DEFAULT_MODEL)  # weights_only
    assert all(v.dtype == torch.float16 for v in state["weights"].values() if v.is_floating_point())
    assert state["info"]["pck_limbs"]["LSP test"] > 0.3


def test_shipped_model_predicts_a_real_lsp_image_as_stored():
    """The packaged weights on LSP test image 1001 land within a few pixels of the stored expectation
    (written by tools/train_default_model.py --pack-only when the weights were packed)."""
    image_path = require(DATA / "lsp" / "images" / "im1001.jpg")
    expected = json.loads(EXPECTED.read_text())
    persons = posekit.load()(str(image_path))
    assert len(persons) == 1
    got = persons[0]["keypoints"]
    np.testing.assert_allclose(got[:, :2], np.array(expected["keypoints"])[:, :2], atol=3.0)


def test_readme_quickstart_runs_as_written(tmp_path, monkeypatch):
    """The README's Python quickstart block, executed verbatim from a folder holding the demo photo."""
    photo = require(DATA / "images" / "zidane.jpg")
    readme = (REPO / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) <= 10
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(photo.read_bytes())
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "photo_pose.jpg").is_file()
    assert len(namespace["persons"]) >= 1


def test_refine_box_from_confident_keypoints():
    from posekit.data.transforms.geometry import refine_box
    kpts = np.array([[10, 20, 0.9], [30, 20, 0.8], [10, 60, 0.7], [30, 60, 0.9], [200, 200, 0.1]], np.float32)
    box = refine_box(kpts, 100, 100)  # the low-scoring outlier is left out; padded 1.25x, clipped
    np.testing.assert_allclose(box, [7.5, 15.0, 25.0, 50.0])
    assert refine_box(kpts[:3], 100, 100) is None  # too few keypoints
    assert refine_box(np.zeros((5, 3), np.float32), 100, 100) is None
    # A limb scoring a third of the best is in the box (with half of the best as the bar it was cut off).
    kpts[4] = [50, 80, 0.3]
    np.testing.assert_allclose(refine_box(kpts, 100, 100, padding=1.0), [10.0, 20.0, 40.0, 60.0])
    np.testing.assert_allclose(refine_box(kpts, 100, 100, padding=1.0, min_score=0.5), [10.0, 20.0, 20.0, 40.0])


class _StubPerson(torch.nn.Module):
    """A 'network' that always finds the same person in image pixels, more sure of it in closer crops."""
    keypoint_set = None
    points = np.array([[100, 100], [140, 100], [100, 180], [140, 180]], np.float64)

    def predict(self, batch, flip_test=True):
        from posekit.data.transforms.geometry import apply_affine, invert_affine
        results = []
        for warp, image_id in zip(batch["warp"], batch["image_id"]):
            zoom = abs(np.linalg.det(np.asarray(warp)[:, :2])) ** 0.5  # input px per image px
            kpts = np.column_stack([self.points, np.full(4, min(1.0, zoom))])
            assert np.allclose(apply_affine(apply_affine(self.points, warp), invert_affine(warp)), self.points)
            results.append([{"image_id": int(image_id), "keypoints": kpts, "score": float(min(1.0, zoom))}])
        return results


def test_predictor_refine_looks_again_around_the_person():
    from posekit.inference.predictor import Predictor
    image = np.zeros((400, 600, 3), np.uint8)
    plain = Predictor(_StubPerson(), "topdown", (64, 64), flip_test=False, padding=1.25)
    refined = Predictor(_StubPerson(), "topdown", (64, 64), flip_test=False, padding=1.25, refine=True)
    assert plain(image)[0]["bbox"] == [0.0, 0.0, 600.0, 400.0]
    second = refined(image)[0]
    # the keypoints' box, cropped as a person box (padded 1.25x by the preprocess, as in training)
    np.testing.assert_allclose(second["bbox"], [100.0, 100.0, 40.0, 80.0])
    assert second["score"] > plain(image)[0]["score"]
    given = refined(image, boxes=np.array([[0, 0, 600, 400]]))  # boxes given: no second look
    assert given[0]["bbox"] == [0.0, 0.0, 600.0, 400.0]
    # refine as a factor: the keypoints' box enlarged 1.5x about its centre before the crop
    wider = Predictor(_StubPerson(), "topdown", (64, 64), flip_test=False, padding=1.25, refine=1.5)(image)[0]
    np.testing.assert_allclose(wider["bbox"], [90.0, 80.0, 60.0, 120.0])


def test_model_file_keypoint_threshold_is_the_drawing_default(tmp_path):
    torch.manual_seed(0)
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 64))
    path = tmp_path / "t.pt"
    save_model_file(model_file_state(estimator, "rtmpose-t", (64, 64), 1.0, SIMCC, half=False,
                                     keypoint_threshold=0.55), path)
    model = load(path)
    persons = model(_image())
    assert model.keypoint_threshold == 0.55 and persons.keypoint_threshold == 0.55
    kpts = np.array([[20, 20, 0.5]] * 5 + [[40, 40, 0.5], [120, 40, 0.5]] + [[0, 0, 0.0]] * 10, np.float32)
    hidden = Persons([{"keypoints": kpts, "bbox": (0, 0, 1, 1), "score": 1.0}], model.keypoint_set, 0.55)
    image = np.zeros((120, 160, 3), np.uint8)
    assert not posekit.draw(image, hidden, boxes=False).any()  # 0.5 < the model's 0.55
    assert posekit.draw(image, hidden, threshold=0.4, boxes=False)[40, 80].any()


def test_older_model_files_refine_switch_reads_as_factor_one(tmp_path):
    """Model files and exports written before refine became a factor say true/false: true is the old
    second look's box, enlarged 1.0x."""
    from posekit.runtime.metadata import ModelMetadata
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 64))
    state = model_file_state(estimator, "rtmpose-t", (64, 64), 1.25, SIMCC, half=False)
    state["refine"] = True
    save_model_file(state, tmp_path / "old.pt")
    assert load(tmp_path / "old.pt").predictor.refine == 1.0
    props = ModelMetadata("topdown", "m", "coco17", ("a",), (0,), (), (64, 64), 1.25, "simcc").to_props()
    assert ModelMetadata.from_props({**props, "refine": "true"}, "old.onnx").refine == 1.0
    assert ModelMetadata.from_props({**props, "refine": "false"}, "old.onnx").refine == 0.0


def test_demo_draws_every_person_the_detector_finds(tiny_model_file, tmp_path):
    """`posekit demo` draws the demo photos with the detector beside the data: one person per box found,
    and the whole photo as the box where it finds nobody (a blank image)."""
    from posekit.commands.demo import DETECTOR, draw_photos
    from conftest import SHARED
    detector = require(SHARED / "weights" / DETECTOR)
    photos = tmp_path / "photos"
    photos.mkdir()
    zidane = cv2.imread(str(require(DATA / "images" / "zidane.jpg")))
    cv2.imwrite(str(photos / "zidane.jpg"), zidane)
    cv2.imwrite(str(photos / "blank.png"), np.zeros((64, 80, 3), np.uint8))
    (photos / "notes.txt").write_text("not a photo")
    model = load(tiny_model_file)
    found = load(tiny_model_file, detector=str(detector))
    out = tmp_path / "out"
    out.mkdir()
    drawn = draw_photos(model, photos, out, found)
    assert sorted(Path(p).name for p in drawn) == ["blank_pose.png", "zidane_pose.png"]
    assert cv2.imread(str(out / "zidane_pose.png")).shape == zidane.shape
    assert len(found(zidane)) >= 2 and found(np.zeros((64, 80, 3), np.uint8)) == []
