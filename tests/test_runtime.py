"""`posekit export` and posekit.runtime: an exported ONNX file runs with numpy + OpenCV + onnxruntime
(torch never imported) and gives the torch PoseModel's poses on the same image and boxes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import posekit.runtime
from posekit.cli import main
from posekit.estimators.topdown import build_topdown_estimator
from posekit.inference.api import load
from posekit.inference.model_file import DEFAULT_MODEL, model_file_state, save_model_file

from conftest import DATA, WEIGHTS, load_benchmark, require

DETECTOR = WEIGHTS / "rtmdet_nano_person_end2end.onnx"
LSP_SIMCC = {"name": "simcc", "split_ratio": 2.0, "normalize": False}


def _export(tmp: Path, name: str, size: tuple[int, int], reset_head: bool, keypoint_set: str = "coco17",
            seed: int = 0, codec: dict | None = None, **options) -> tuple[Path, Path]:
    """A random model file (options: model_file_state's, e.g. refine) and its `posekit export`."""
    torch.manual_seed(seed)
    estimator = build_topdown_estimator(name, keypoint_set, size)
    if reset_head:  # O(1) SimCC logits, so that decoded points spread out instead of all tying
        for m in estimator.model.head.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.reset_parameters()
    model_file = save_model_file(model_file_state(estimator, name, size, 1.25, codec or {}, half=False, **options),
                                 tmp / f"{name}.pt")
    onnx_file = tmp / f"{name}.onnx"
    assert main(["export", str(model_file), "--out", str(onnx_file)]) == 0
    return model_file, onnx_file


@pytest.fixture(scope="module")
def simcc(tmp_path_factory) -> tuple[Path, Path]:
    return _export(tmp_path_factory.mktemp("simcc"), "rtmpose-t", (64, 64), reset_head=True)


@pytest.fixture(scope="module")
def heatmap(tmp_path_factory) -> tuple[Path, Path]:
    # UDP heatmaps with DARK refinement, SimpleBaseline's published head initialisation.
    return _export(tmp_path_factory.mktemp("heatmap"), "simplebaseline-res18", (64, 64), reset_head=False)


@pytest.fixture
def zidane() -> Path:
    return require(DATA / "images" / "zidane.jpg")


def _assert_same(expected: list[dict], got: list[dict], atol: float = 1e-4, positions: bool = True,
                 box_atol: float = 1e-6) -> None:
    """Same persons, scores and boxes (within box_atol px); keypoint scores (and positions) within atol (px)."""
    assert len(got) == len(expected) > 0
    for e, g in zip(expected, got):
        assert g["keypoints"].dtype == np.float32 and g["keypoints"].shape == e["keypoints"].shape
        np.testing.assert_allclose(g["keypoints"][:, 2], e["keypoints"][:, 2], rtol=0, atol=atol)
        if positions:
            np.testing.assert_allclose(g["keypoints"][:, :2], e["keypoints"][:, :2], rtol=0, atol=atol)
        # The pose score is a mean of keypoint scores, so it agrees to the keypoint scores' own atol.
        assert g["score"] == pytest.approx(e["score"], rel=0, abs=atol)
        assert g["bbox"] == pytest.approx(e["bbox"], abs=box_atol)
        assert set(g) == set(e)


def test_runtime_never_imports_torch(simcc, zidane):
    script = ("import json, sys, posekit.runtime\n"
              "predictor = posekit.runtime.load(sys.argv[1], threads=1)\n"
              "persons = predictor(sys.argv[2])\n"
              "outside = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'posekit'})\n"
              "print(json.dumps({'torch': 'torch' in sys.modules, 'outside': [m for m in outside if m[0] != '_'],\n"
              "                  'persons': len(persons), 'shape': list(persons[0]['keypoints'].shape),\n"
              "                  'bbox': persons[0]['bbox']}))\n")
    done = subprocess.run([sys.executable, "-c", script, str(simcc[1]), str(zidane)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"torch": False, "outside": ["cv2", "numpy", "onnxruntime"], "persons": 1, "shape": [17, 3],
                      "bbox": [0.0, 0.0, 1280.0, 720.0]}


def test_simcc_matches_torch_model(simcc, zidane):
    import cv2
    model = load(simcc[0])
    predictor = posekit.runtime.load(simcc[1], threads=1)
    assert predictor.keypoint_set.names == model.keypoint_set.names
    assert list(predictor.keypoint_set.flip_index) == list(model.keypoint_set.flip_index)
    bgr = cv2.imread(str(zidane))
    boxes = np.array([[120.0, 40.0, 380.0, 650.0, 0.9], [650.0, 60.0, 520.0, 660.0, 0.6], [0.0, 300.0, 90.0, 80.0, 1.0]])
    _assert_same(model(zidane), predictor(zidane))                     # whole image as the box, flip test
    _assert_same(model(bgr, boxes=boxes), predictor(bgr, boxes=boxes))
    _assert_same(model(bgr, boxes=boxes[:, :4]), predictor(bgr[..., ::-1].copy(), boxes=boxes[:, :4], rgb=True))
    plain = posekit.runtime.load(simcc[1], threads=1, flip_test=False)
    _assert_same(load(simcc[0], flip_test=False)(bgr, boxes=boxes), plain(bgr, boxes=boxes))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)  # grayscale and BGRA arrays: as the torch model takes them
    _assert_same(model(gray, boxes=boxes), predictor(gray, boxes=boxes))
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    _assert_same(model(bgr, boxes=boxes), predictor(bgra, boxes=boxes))
    batch = predictor([zidane, bgr])
    assert isinstance(batch, list) and len(batch) == 2 and batch[1].keypoint_set is predictor.keypoint_set


def test_heatmap_matches_torch_model(heatmap, zidane):
    """Crops are bit-identical, the ONNX outputs match torch's to float32 precision, and decoding the
    same outputs gives the same poses to 1e-4 px. End to end, DARK's Newton step on these untrained,
    nearly flat maps magnifies the float32 difference between onnxruntime's and torch's convolutions
    to about 1e-4 input pixels, so there the check is 1e-3 px on boxes cropped at about one image
    pixel per input pixel (whole-image boxes would scale it by the crop's 25x zoom)."""
    from posekit.data.datasets import normalize_image
    from posekit.data.io import load_image
    from posekit.data.transforms.preprocess import warp_image
    model = load(heatmap[0])
    predictor = posekit.runtime.load(heatmap[1], threads=1)
    rgb = load_image(zidane)
    whole = np.array([[0.0, 0.0, rgb.shape[1], rgb.shape[0], 1.0]])
    crops, warps = predictor.preprocess(rgb, whole, rgb=True)
    torch_crops = torch.stack([normalize_image(warp_image(rgb, w, predictor.input_size)) for w in warps])
    assert np.array_equal(crops, torch_crops.numpy())
    outputs = model.estimator.predict_outputs(torch_crops, flip_test=True)
    assert np.abs(predictor.infer(crops) - outputs).max() <= 1e-5 * np.abs(outputs).max()
    _assert_same(model(zidane), predictor.decode(outputs, warps, whole))
    boxes = np.array([[300.0, 180.0, 52.0, 50.0, 1.0], [420.0, 400.0, 48.0, 56.0, 0.8], [20.0, 20.0, 51.0, 51.0, 1.0]])
    _assert_same(model(zidane, boxes=boxes), predictor(zidane, boxes=boxes), atol=1e-3)


def test_list_runs_all_crops_together_as_one_by_one(simcc, zidane, monkeypatch):
    """A list of images: every crop of every image goes through the network together (in chunks of
    BATCH), with one set of boxes per image, and gives what one call per image gives, and what the
    torch model gives for the same list."""
    import cv2
    import posekit.runtime.predictor as runtime_predictor
    predictor = posekit.runtime.load(simcc[1], threads=1)
    bgr = cv2.imread(str(zidane))
    small = np.ascontiguousarray(bgr[100:400, 200:700])
    images = [bgr, bgr, small]
    boxes = [np.array([[120.0, 40.0, 380.0, 650.0, 0.9], [650.0, 60.0, 520.0, 660.0, 0.6]]), np.zeros((0, 4)),
             np.array([[10.0, 10.0, 200.0, 250.0]])]
    one_by_one = [predictor(image, boxes=given) for image, given in zip(images, boxes)]
    calls = []
    infer = predictor.infer
    monkeypatch.setattr(predictor, "infer", lambda batch: calls.append(len(batch)) or infer(batch))
    monkeypatch.setattr(runtime_predictor, "BATCH", 2)
    together = predictor(images, boxes=boxes)
    assert calls == [2, 1] and [len(p) for p in together] == [2, 0, 1]
    for expected, got in zip(one_by_one, together):
        assert got.keypoint_set is predictor.keypoint_set
        if expected:
            _assert_same(expected, got)
    for expected, got in zip(load(simcc[0])(images, boxes=boxes), together):
        if expected:
            _assert_same(expected, got)
    # One set of boxes for every image (BATCH images at a time: two groups here), and the whole image.
    calls.clear()
    assert [len(p) for p in predictor(images, boxes=boxes[0])] == [2, 2, 2] and calls == [2, 2, 2]
    calls.clear()
    whole = predictor([bgr, small])
    assert calls == [2] and [len(p) for p in whole] == [1, 1]
    _assert_same(predictor(small), whole[1])


@pytest.mark.parametrize("mode", ["msra", "udp"])
@pytest.mark.parametrize("refine", ["none", "shift", "dark"])
def test_heatmap_decoder_is_the_codec(mode, refine):
    from posekit.codecs.heatmap import HeatmapCodec
    from posekit.runtime.decode import HeatmapDecoder
    codec = HeatmapCodec((48, 64), (12, 16), mode=mode, refine=refine)
    decoder = HeatmapDecoder((48, 64), (12, 16), mode=mode, refine=refine)
    rng = np.random.default_rng(0)
    maps, mirrored = rng.random((2, 3, 17, 16, 12), dtype=np.float32)
    flip_index = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
    averaged = decoder.flip_average(maps, mirrored, flip_index)
    np.testing.assert_array_equal(averaged, codec.flip_average(maps, mirrored, flip_index))
    for got, expected in zip(decoder.decode(averaged), codec.decode(averaged)):
        np.testing.assert_array_equal(got, expected)


def test_detector_finds_the_persons_torch_finds(simcc, zidane):
    detector = require(DETECTOR)
    predictor = posekit.runtime.load(simcc[1], detector=detector, threads=1)
    persons = predictor(zidane)
    assert len(persons) >= 2
    _assert_same(load(simcc[0], detector=detector)(zidane), persons)


def test_export_writes_runtime_metadata(simcc, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(simcc[0]), "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["paradigm"] == "topdown" and props["model"] == "rtmpose-t" and props["codec"] == "simcc"
    assert props["keypoint_set"] == "coco17" and json.loads(props["input_size"]) == [64, 64]
    assert json.loads(props["keypoint_names"])[:3] == ["nose", "left_eye", "right_eye"]
    assert json.loads(props["flip_index"])[:3] == [0, 2, 1] and len(json.loads(props["skeleton"])) == 19
    assert json.loads(props["bbox_padding"]) == 1.25
    assert json.loads(props["codec_params"])["split_ratio"] == 2.0
    assert printed["out"] == str(out) and printed["codec_params"] == json.loads(props["codec_params"])
    assert not list(tmp_path.glob("*.partial"))


def test_export_training_checkpoint_keeps_its_settings(tmp_path):
    from posekit.config import ExperimentConfig, from_dict, to_dict
    from posekit.training.checkpoint import save_checkpoint
    cfg = from_dict(ExperimentConfig, {"model": {"name": "rtmpose-t"}, "data": {
        "keypoint_set": "lsp14", "input_size": [64, 96], "augment": {"bbox_padding": 1.1}}})
    checkpoint = tmp_path / "run.pt"
    save_checkpoint({"strategy": {}, "estimator": build_topdown_estimator("rtmpose-t", "lsp14", (64, 96)).state_dict(),
                     "metadata": {"experiment": to_dict(cfg)}}, checkpoint)
    assert main(["export", str(checkpoint), "--out", str(tmp_path / "run.onnx")]) == 0
    meta = posekit.runtime.load(tmp_path / "run.onnx").metadata
    assert (meta.keypoint_set, meta.input_size, meta.bbox_padding) == ("lsp14", (64, 96), 1.1)
    assert len(meta.keypoint_names) == 14


def test_export_bottomup_records_it_and_runtime_refuses_it(tmp_path):
    from posekit.config import ExperimentConfig, from_dict, to_dict
    from posekit.estimators.bottomup import build_bottomup_estimator
    from posekit.training.checkpoint import save_checkpoint
    cfg = from_dict(ExperimentConfig, {"paradigm": "bottomup", "model": {"name": "simplepose-imhn-s"},
                                       "data": {"keypoint_set": "coco17", "input_size": [128, 128]}})
    estimator = build_bottomup_estimator("simplepose-imhn-s", "coco17", (128, 128))
    save_checkpoint({"strategy": {}, "estimator": estimator.state_dict(), "metadata": {"experiment": to_dict(cfg)}},
                    tmp_path / "bu.pt")
    assert main(["export", str(tmp_path / "bu.pt"), "--out", str(tmp_path / "bu.onnx")]) == 0
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "bu.onnx")).metadata_props}
    assert props["paradigm"] == "bottomup" and props["codec"] == "simplepose"
    with pytest.raises(ValueError, match=r"bu.onnx: a bottomup model .*top-down models only"):
        posekit.runtime.load(tmp_path / "bu.onnx")


@pytest.mark.parametrize("case", ["missing", "junk", "onnx_as_checkpoint", "out_not_onnx"])
def test_export_bad_input_is_one_line(case, simcc, tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    source, out = {"missing": (tmp_path / "missing.pt", "x.onnx"), "junk": (junk, "x.onnx"),
                   "onnx_as_checkpoint": (simcc[1], "x.onnx"), "out_not_onnx": (simcc[0], "x.pt")}[case]
    assert main(["export", str(source), "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("posekit export: error: ") and (Path(source).name in err or "x.pt" in err)
    assert not (tmp_path / out).exists()


def test_export_disk_full_names_the_out_file(simcc, tmp_path, capsys, monkeypatch):
    """A write that fails (here a full disk) is one line naming --out, not its temporary file, and
    leaves neither file behind."""
    import errno
    import os as os_module

    def full(*_):
        raise OSError(errno.ENOSPC, os_module.strerror(errno.ENOSPC))
    monkeypatch.setattr("posekit.commands.export.os.replace", full)
    out = tmp_path / "m.onnx"
    assert main(["export", str(simcc[0]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"posekit export: error: {out}: cannot write it (No space left on device)"
    assert list(tmp_path.iterdir()) == []


def test_runtime_bad_input_names_the_file(simcc, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx: no such ONNX file"):
        posekit.runtime.load(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx: not an ONNX model") as error:
        posekit.runtime.load(junk)
    assert "\n" not in str(error.value)
    bare = onnx.load(str(simcc[1]))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ValueError, match="bare.onnx: an ONNX model without posekit metadata"):
        posekit.runtime.load(tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        posekit.runtime.load(simcc[1])(np.zeros((10, 10, 2), np.uint8))


def test_export_default_model_runs_like_torch(tmp_path):
    """The shipped model through `posekit export default`: same poses as posekit.load(). A trained SimCC
    head can give an unsure keypoint two near-equal peaks, where float32 noise picks either; there the
    runtime's choice must be a peak of torch's own logits too."""
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"{DEFAULT_MODEL} is not built yet")
    from posekit.data.io import load_image
    images = sorted(require(DATA / "images").iterdir())
    assert main(["export", "default", "--out", str(tmp_path / "default.onnx")]) == 0
    predictor = posekit.runtime.load(tmp_path / "default.onnx", threads=1)
    model = load()
    split = predictor.decoder.split_ratio
    for image in images:
        expected, got = model(image), predictor(image)
        rgb = load_image(image)
        crops, _ = predictor.preprocess(rgb, predictor.boxes_for(rgb, None, rgb=True), rgb=True)
        torch_logits = model.estimator.predict_outputs(torch.from_numpy(crops), flip_test=True)
        chosen, _ = predictor.decoder.decode(predictor.infer(crops))
        for axis, logits in enumerate(torch_logits):
            at_chosen = np.take_along_axis(logits[0], np.round(chosen[0, :, axis:axis + 1] * split).astype(int), 1)
            assert (at_chosen[:, 0] >= logits[0].max(-1) - 1e-5).all()
        # Positions checked above. Each closer look is boxed from the last look's float64 keypoints on
        # both sides (not the float32 ones users get), so where the same peaks win the boxes are equal:
        # boxed from float32 keypoints, the third look moved by 4e-5 px and a score by 1.2e-4.
        _assert_same(expected, got, positions=False)


def test_runtime_refine_matches_the_torch_predictor(tmp_path):
    """A model file with refine on: the exported file carries it, and the runtime's second look gives
    the torch Predictor's poses."""
    path, onnx_path = _export(tmp_path, "rtmpose-t", (64, 64), True, "lsp14", seed=1, codec=LSP_SIMCC,
                              refine=1.3, whole_image_padding=1.0)
    onnx_model = posekit.runtime.load(onnx_path)
    assert onnx_model.metadata.refine == 1.3 and onnx_model.metadata.whole_image_padding == 1.0
    assert onnx_model.metadata.bbox_padding == 1.25
    image = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    torch_model = load(path)
    expected = torch_model(image)
    got = onnx_model(image)
    assert got[0]["bbox"] == pytest.approx(expected[0]["bbox"], abs=1e-4)
    np.testing.assert_allclose(got[0]["keypoints"], expected[0]["keypoints"], atol=1e-4)
    # A given box is cropped with the person-box padding by both, and no second look is taken.
    box = np.array([[40.0, 20.0, 60.0, 90.0]])
    expected, got = torch_model(image, boxes=box), onnx_model(image, boxes=box)
    assert got[0]["bbox"] == expected[0]["bbox"] == pytest.approx(tuple(box[0]))
    np.testing.assert_allclose(got[0]["keypoints"], expected[0]["keypoints"], atol=1e-4)
    # A list takes each image's second look as one call per image does (all second looks run together).
    other = np.ascontiguousarray(image[::-1, ::-1])
    for expected, got in zip([torch_model(image), torch_model(other)], onnx_model([image, other])):
        assert got[0]["bbox"] == pytest.approx(expected[0]["bbox"], abs=1e-4)
        np.testing.assert_allclose(got[0]["keypoints"], expected[0]["keypoints"], atol=1e-4)


def test_further_looks_match_the_torch_predictor(tmp_path, monkeypatch):
    """refine_looks 2: a third look around the second's keypoints, in the model file, the exported ONNX
    file and both predictors, with the same poses from each; a look that finds nothing ends the looks."""
    from posekit.inference.predictor import Predictor
    path, onnx_path = _export(tmp_path, "rtmpose-t", (64, 64), True, "lsp14", seed=1, codec=LSP_SIMCC,
                              refine=1.15, whole_image_padding=1.0, refine_looks=2)
    onnx_model = posekit.runtime.load(onnx_path)
    torch_model = load(path)
    assert onnx_model.metadata.refine_looks == torch_model.predictor.refine_looks == 2
    images = [np.random.default_rng(seed).integers(0, 255, (120, 200, 3), dtype=np.uint8) for seed in (0, 1)]
    passes = []
    topdown = Predictor._topdown
    monkeypatch.setattr(Predictor, "_topdown", lambda self, *a, **k: passes.append(1) or topdown(self, *a, **k))
    expected = [torch_model(image) for image in images]
    assert len(passes) == 6  # the whole image, then two closer looks, per image
    for e, g in zip(expected, onnx_model(images)):
        assert g[0]["bbox"] == pytest.approx(e[0]["bbox"], abs=1e-4)
        np.testing.assert_allclose(g[0]["keypoints"], e[0]["keypoints"], atol=1e-4)
    # The third look is not the second: one look fewer gives another box.
    torch_model.predictor.refine_looks = 1
    assert torch_model(images[0])[0]["bbox"] != pytest.approx(expected[0][0]["bbox"], abs=1e-3)
    # A closer look that finds nothing (score 0) ends the looks and keeps the last one that found a person.
    passes.clear()
    torch_model.predictor.refine_looks = 2
    monkeypatch.setattr("posekit.inference.predictor.keep_second", lambda score: False)
    first = torch_model(images[0])
    assert len(passes) == 2 and first[0]["bbox"] == pytest.approx((0.0, 0.0, 200.0, 120.0))


def test_parity_benchmark_runs_on_the_shipped_model(capsys):
    """benchmarks/runtime_parity.py end to end on two real photos: the shipped SimCC model's torch and
    torch-free predictions agree within 1e-4 px."""
    images = require(DATA / "lsp" / "images")
    module = load_benchmark("runtime_parity")
    assert module.main([str(DEFAULT_MODEL), "--images", str(images), "--limit", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["images"] == 2 and result["codec"] == "SimCCCodec" and result["within_1e-4"]
    assert result["keypoints"] == {"whole_image": 28, "box": 28} and result["beyond_1e-4"] == {"whole_image": 0, "box": 0}
