"""PoseDual's RandAugment as released: 11 ops, value = m/30 of each op's range, checked op by op
against PIL (which the released code runs)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from posekit.training.strategies.semi_common import RANDAUG_OPS, _op, rand_augment


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 200, (24, 20, 3))
    return np.clip(base + rng.integers(-25, 25, (24, 20, 3)), 0, 255).astype(np.uint8)


def _ours(array: np.ndarray, name: str, value: float, sign: float = 1.0) -> np.ndarray:
    x = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    return (_op(x, name, value, sign).permute(1, 2, 0).numpy() * 255).round().astype(int)


@pytest.mark.parametrize("name,value,reference", [
    ("autocontrast", 0.3, lambda im, v: ImageOps.autocontrast(im)),
    ("equalize", 0.3, lambda im, v: ImageOps.equalize(im)),
    ("invert", 0.3, lambda im, v: ImageOps.invert(im)),
    ("posterize", 1.33, lambda im, v: ImageOps.posterize(im, max(2, 6 - int(v)))),
    ("solarize", 85.3, lambda im, v: ImageOps.solarize(im, 256 - v)),
    ("solarize_add", 36.7, lambda im, v: ImageOps.solarize(
        Image.fromarray(np.clip(np.asarray(im).astype(int) + v, 0, 255).astype(np.uint8)), 128)),
    ("brightness", 0.3, lambda im, v: ImageEnhance.Brightness(im).enhance(1 + v)),
    ("color", 0.3, lambda im, v: ImageEnhance.Color(im).enhance(1 + v)),
    ("contrast", 0.3, lambda im, v: ImageEnhance.Contrast(im).enhance(1 + v)),
])
def test_each_op_matches_pil(name, value, reference):
    array = _image()
    expected = np.asarray(reference(Image.fromarray(array), value)).astype(int)
    got = _ours(array, name, value)
    assert np.abs(got - expected).max() <= 2, name  # float maths vs PIL's integer rounding


def test_eleven_ops_and_magnitude_scale():
    assert len(RANDAUG_OPS) == 11
    assert {n for n, _, _ in RANDAUG_OPS} >= {"equalize", "invert", "solarize_add", "cutout"}
    assert dict((n, hi) for n, _, hi in RANDAUG_OPS)["cutout"] == 80


def test_m10_is_a_third_of_the_maximum_and_solarize_keeps_dark_pixels():
    """At the released M = 10, solarize inverts only pixels >= 170.7; posekit's old version (m/10 of
    the maximum) inverted the whole image."""
    torch.manual_seed(0)
    array = np.full((16, 16, 3), 100, np.uint8)
    got = _ours(array, "solarize", 10 / 30 * 256)
    assert (got == 100).all()
    cut = _ours(np.zeros((64, 64, 3), np.uint8), "cutout", 10 / 30 * 80)
    grey = (cut == [125, 123, 114]).all(axis=-1)
    assert 0 < grey.sum() <= 27 * 27  # a square of side 26.7 px at most


def test_rand_augment_keeps_shape_and_changes_the_batch():
    torch.manual_seed(1)
    batch = torch.randn(4, 3, 32, 24)
    out = rand_augment(batch, n=2, m=10)
    assert out.shape == batch.shape and not torch.equal(out, batch)
