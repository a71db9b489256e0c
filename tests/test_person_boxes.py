"""Person boxes into the predictors (posekit.load and posekit.runtime alike): every shape users and
detectors hand over is read or refused in one line, and an empty list means nobody, not the whole image."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.data.transforms.geometry import keep_second
from posekit.data.transforms.preprocess import person_boxes


def test_shapes_read_and_refused():
    np.testing.assert_array_equal(person_boxes([1, 2, 3, 4]), [[1, 2, 3, 4, 1]])  # one box, score 1
    np.testing.assert_array_equal(person_boxes([[1, 2, 3, 4, 0.5]]), [[1, 2, 3, 4, 0.5]])
    assert person_boxes([]).shape == person_boxes(np.zeros((0, 4))).shape == (0, 5)
    for bad, message in [(np.zeros((2, 3)), r"shape \(2, 3\)"), (np.zeros((1, 6)), r"shape \(1, 6\)"),
                         ([[0, 0, np.nan, 4]], r"boxes\[0\]: not a finite"),
                         ([[0, 0, 5, 5], [1, 1, 0, 3]], r"boxes\[1\]: width and height must be positive"),
                         ([[0, 0, -2, 3]], "positive"), ("a box", "numbers")]:
        with pytest.raises(ValueError, match=message):
            person_boxes(bad)
    with pytest.raises(ValueError, match=r"detector output\[0\]"):
        person_boxes([[0, 0, 0, 0, 0.9]], "detector output")


def test_refine_keeps_the_second_look_unless_it_found_nothing():
    assert keep_second(0.5) and keep_second(0.01) and not keep_second(0.0)


@pytest.fixture(scope="module")
def both(tiny_model, tmp_path_factory):
    import posekit
    import posekit.runtime
    from posekit.cli import main
    onnx_file = tmp_path_factory.mktemp("boxes") / "tiny.onnx"
    assert main(["export", str(tiny_model), "--out", str(onnx_file)]) == 0
    return posekit.load(tiny_model), posekit.runtime.load(onnx_file, threads=1)


def test_empty_boxes_mean_nobody_and_bad_boxes_one_line(both):
    image = np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    for model in both:
        assert len(model(image)) == 1  # no boxes given: the whole image
        assert model(image, boxes=[]) == [] and model(image, boxes=np.zeros((0, 4))) == []
        single = model(image, boxes=[5, 5, 30, 40])
        assert len(single) == 1 and single[0]["bbox"] == pytest.approx((5, 5, 30, 40))
        with pytest.raises(ValueError, match="width and height must be positive"):
            model(image, boxes=[[5, 5, 0, 0]])
        with pytest.raises(ValueError, match="not empty"):
            model(np.zeros((0, 0, 3), np.uint8))


def test_detector_boxes_of_four_columns_or_a_list(tiny_model):
    import posekit
    image = np.random.default_rng(1).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    as_list = posekit.load(tiny_model, detector=lambda rgb: [[5.0, 5.0, 30.0, 40.0]])(image)
    four = posekit.load(tiny_model, detector=lambda rgb: np.array([[5.0, 5.0, 30.0, 40.0]]))(image)
    assert as_list[0]["bbox"] == four[0]["bbox"] == pytest.approx((5, 5, 30, 40))
    nobody = posekit.load(tiny_model, detector=lambda rgb: np.zeros((0, 5)))(image)
    assert nobody == []


def test_load_refuses_a_device_this_machine_lacks(tiny_model):
    import posekit
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    with pytest.raises(ValueError, match=r"device='cuda'.*use device='cpu'"):
        posekit.load(tiny_model, device="cuda")
    with pytest.raises(ValueError, match="not a device name"):
        posekit.load(tiny_model, device="gpu")
