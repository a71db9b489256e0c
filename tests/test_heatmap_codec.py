"""Heatmap codec: hand-computed encodings, refinement, flip helpers, and a round trip on real
LSP and COCO keypoints."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
import torch

from posekit.codecs import build_codec
from posekit.codecs.heatmap import HeatmapCodec, flip_heatmaps
from posekit.codecs.refine import blurred_neighbourhood

INPUT, HEATMAP = (192, 256), (48, 64)
UDP_STRIDE = np.array([191 / 47, 255 / 63])


def codec(mode: str = "udp", refine: str = "dark") -> HeatmapCodec:
    return build_codec("heatmap", input_size=INPUT, heatmap_size=HEATMAP, sigma=2.0, mode=mode,
                       refine=refine)


def reference_map(cx: float, cy: float, wx: int, wy: int, sigma: float = 2.0) -> np.ndarray:
    """Pixel-by-pixel Gaussian centred at (cx, cy), kept within 3 sigma of pixel (wx, wy)."""
    w, h = HEATMAP
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            if abs(x - wx) <= 3 * sigma and abs(y - wy) <= 3 * sigma:
                out[y, x] = math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma ** 2))
    return out


def test_attributes_and_bad_parameters() -> None:
    c = codec()
    assert c.input_size == INPUT and c.heatmap_size == HEATMAP
    with pytest.raises(ValueError, match="mode"):
        codec(mode="megvii")
    with pytest.raises(ValueError, match="refine"):
        codec(refine="integral")
    with pytest.raises(ValueError, match="blur_kernel"):
        build_codec("heatmap", input_size=INPUT, heatmap_size=HEATMAP, blur_kernel=4)
    with pytest.raises(ValueError, match=r"\(B, K, 64, 48\)"):
        c.decode(np.zeros((1, 2, 48, 64)))


def test_udp_encode_subpixel_keypoint() -> None:
    hx, hy = 10.3, 20.6  # heatmap pixels
    out = codec("udp").encode(np.array([[hx, hy]]) * UDP_STRIDE, np.array([1]))
    heatmap = out["heatmaps"][0]
    assert out["heatmaps"].dtype == np.float32 and out["keypoint_weights"].tolist() == [1.0]
    np.testing.assert_allclose(heatmap, reference_map(hx, hy, 10, 21), atol=1e-6)
    assert heatmap[21, 16] > 0 and heatmap[21, 17] == 0  # window is 3 sigma = 6 px each side
    assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (21, 10)


def test_msra_encode_rounds_the_centre() -> None:
    # input (41, 83) -> heatmap (10.25, 20.75) -> centre pixel (10, 21), peak exactly 1.
    heatmap = codec("msra").encode(np.array([[41.0, 83.0]]), np.array([1]))["heatmaps"][0]
    np.testing.assert_allclose(heatmap, reference_map(10, 21, 10, 21), atol=1e-6)
    assert heatmap[21, 10] == 1.0
    assert heatmap[21, 16] == pytest.approx(math.exp(-36 / 8)) and heatmap[21, 17] == 0
    # 42 / 4 = 10.5 rounds up, as int(x + 0.5) does.
    heatmap = codec("msra").encode(np.array([[42.0, 80.0]]), np.array([1]))["heatmaps"][0]
    assert heatmap[20, 11] == 1.0


def test_invisible_and_out_of_bounds_keypoints() -> None:
    keypoints = np.array([[50.0, 60.0], [50.0, 60.0], [-40.0, 60.0], [-10.0, 60.0], [50.0, 400.0]])
    out = codec("msra").encode(keypoints, np.array([1, 0, 1, 1, 1]))
    assert out["keypoint_weights"].tolist() == [1, 0, 0, 1, 0]
    assert out["heatmaps"][[1, 2, 4]].max() == 0
    # -10 input px -> -2.5 heatmap px -> centre -2: its Gaussian still reaches the first column.
    assert out["heatmaps"][3, 15, 0] == pytest.approx(math.exp(-4 / 8))
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        codec().encode(np.zeros((3, 3)), np.ones(3))


def test_dark_recovers_subpixel_gaussian() -> None:
    w, h = HEATMAP
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    centres = np.array([[20.37, 30.81], [7.62, 12.14], [33.5, 50.49]])
    for sigma in (2.0, 3.0):  # DARK assumes a Gaussian, not this codec's sigma
        maps = np.stack([np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
                         for cx, cy in centres])[None]
        found = codec("udp", "dark").decode(maps)[0][0] / UDP_STRIDE
        np.testing.assert_array_less(np.abs(found - centres), 0.05)
        argmax_only = codec("udp", "none").decode(maps)[0][0] / UDP_STRIDE
        assert np.abs(argmax_only - centres).max() > 0.3


def test_dark_blur_matches_padded_cv2_blur() -> None:
    # Reference: zero-pad (kernel radius + 1 so the neighbourhood of a border pixel exists),
    # cv2.GaussianBlur the whole map, read the 3x3 window.
    rng = np.random.default_rng(1)
    maps = rng.random((4, 64, 48)).astype(np.float32)
    x, y = np.array([0, 1, 20, 47]), np.array([0, 62, 30, 5])
    got = blurred_neighbourhood(maps, x, y, 11)
    for i in range(4):
        blurred = cv2.GaussianBlur(np.pad(maps[i], 6), (11, 11), 0)
        np.testing.assert_allclose(got[i], blurred[y[i] + 5:y[i] + 8, x[i] + 5:x[i] + 8], atol=1e-5)


def test_shift_moves_toward_higher_neighbour() -> None:
    maps = np.zeros((1, 2, 64, 48), dtype=np.float32)
    maps[0, 0, 20, 10] = 1.0
    maps[0, 0, 20, 11], maps[0, 0, 20, 9] = 0.6, 0.2  # right higher -> +x
    maps[0, 0, 19, 10], maps[0, 0, 21, 10] = 0.5, 0.1  # above higher -> -y
    maps[0, 1, 20, 10] = 1.0  # symmetric peak: no shift
    keypoints, scores = codec("msra", "shift").decode(maps)
    np.testing.assert_allclose(keypoints[0], [[10.25 * 4, 19.75 * 4], [40.0, 80.0]])
    np.testing.assert_allclose(scores[0], [1.0, 1.0])


def test_decode_accepts_torch_and_numpy() -> None:
    c = codec()
    maps = c.encode(np.array([[30.2, 100.7], [150.9, 20.1]]), np.ones(2))["heatmaps"][None]
    from_numpy = c.decode(maps)
    from_torch = c.decode(torch.from_numpy(maps).requires_grad_())
    for a, b in zip(from_numpy, from_torch):
        assert isinstance(b, np.ndarray)
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(from_numpy[0][0], [[30.2, 100.7], [150.9, 20.1]], atol=0.05)


def mirrored(keypoints: np.ndarray, flip_index: np.ndarray) -> np.ndarray:
    """Keypoints of the horizontally mirrored input, with left/right labels swapped."""
    out = keypoints[flip_index].copy()
    out[:, 0] = INPUT[0] - 1 - out[:, 0]
    return out


def test_udp_flip_is_exact() -> None:
    c = codec("udp")
    flip_index = np.array([0, 2, 1])
    keypoints = np.array([[93.0, 40.0], [50.3, 120.2], [131.7, 122.9]])  # not symmetric
    original = c.encode(keypoints, np.ones(3))["heatmaps"]
    of_mirror = c.encode(mirrored(keypoints, flip_index), np.ones(3))["heatmaps"]
    np.testing.assert_allclose(c.flip_heatmaps(of_mirror, flip_index), original, atol=1e-6)
    np.testing.assert_allclose(c.flip_average(original, of_mirror, flip_index), original, atol=1e-6)


def test_msra_flip_needs_the_one_pixel_shift() -> None:
    c = codec("msra")
    flip_index = np.array([1, 0])
    keypoints = np.array([[40.0, 80.0], [120.0, 84.0]])  # x/4 whole: the shifted mirror is exact
    original = c.encode(keypoints, np.ones(2))["heatmaps"]
    of_mirror = c.encode(mirrored(keypoints, flip_index), np.ones(2))["heatmaps"]
    np.testing.assert_array_equal(c.flip_average(original, of_mirror, flip_index), original)
    unshifted = flip_heatmaps(of_mirror, flip_index, shift=False)
    assert unshifted[0, 20].argmax() == 9 and original[0, 20].argmax() == 10


def test_flip_average_torch_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 2, 5, 64, 48), dtype=np.float32)
    flip_index = [0, 2, 1, 4, 3]
    for c in (codec("udp"), codec("msra")):
        expected = c.flip_average(a, b, flip_index)
        got = c.flip_average(torch.from_numpy(a), torch.from_numpy(b), flip_index)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-7)
    with pytest.raises(ValueError, match="flip_index"):
        flip_heatmaps(a, [0, 1], shift=False)


def crop_to_input(keypoints: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    """Keypoints relative to the bbox padded by 1.25, scaled into the 192x256 input."""
    x, y, w, h = bbox
    w, h = w * 1.25, h * 1.25
    x0, y0 = x + bbox[2] / 2 - w / 2, y + bbox[3] / 2 - h / 2
    return (keypoints - [x0, y0]) / [w, h] * [INPUT[0], INPUT[1]]


def real_people(lsp_root: Path, coco_subset: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(keypoints (N, K, 2) in input px, visible (N, K)) for LSP test images and COCO persons."""
    joints = scipy.io.loadmat(lsp_root / "joints.mat")["joints"]  # (3, 14, 2000), flag 0 = visible
    lsp = np.transpose(joints, (2, 1, 0))[1000:]
    lsp_visible = lsp[..., 2] == 0
    crops = []
    for person, visible in zip(lsp, lsp_visible):
        lo, hi = person[visible, :2].min(0), person[visible, :2].max(0)
        crops.append(crop_to_input(person[:, :2], np.r_[lo, hi - lo]))
    coco = json.loads((coco_subset / "person_keypoints_merged.json").read_text())
    annotations = [a for a in coco["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    coco_kp = np.array([a["keypoints"] for a in annotations], dtype=np.float64).reshape(-1, 17, 3)
    coco_crops = [crop_to_input(k[:, :2], np.array(a["bbox"]))
                  for k, a in zip(coco_kp, annotations)]
    return [(np.stack(crops), lsp_visible), (np.stack(coco_crops), coco_kp[..., 2] > 0)]


def roundtrip(c: HeatmapCodec, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Decoded minus true keypoints (N, K, 2) in input pixels, after encoding each person."""
    maps = np.stack([c.encode(k, v)["heatmaps"] for k, v in zip(keypoints, visible)])
    return c.decode(maps)[0] - keypoints


def test_roundtrip_on_real_keypoints(lsp_root: Path, coco_subset: Path) -> None:
    udp_dark, msra_none = codec("udp", "dark"), codec("msra", "none")
    counts = {"interior": 0, "border": 0}
    for keypoints, visible in real_people(lsp_root, coco_subset):
        heat = keypoints / UDP_STRIDE
        w, h = HEATMAP
        border_distance = np.minimum.reduce([heat[..., 0], heat[..., 1],
                                             w - 1 - heat[..., 0], h - 1 - heat[..., 1]])
        inside = visible & (border_distance >= 0)
        # Every visible keypoint inside the input, border band included (where the refinement
        # switches from the blurred map to the raw log-map), comes back within 0.1 px.
        band = inside & (border_distance < 4.0)
        error = np.linalg.norm(roundtrip(udp_dark, keypoints, visible), axis=-1)
        assert error[inside].max() < 0.1
        counts["interior"] += int((inside & ~band).sum())
        counts["border"] += int(band.sum())
        # MSRA without refinement lands on the nearest heatmap pixel: at most half a stride per axis.
        msra_error = roundtrip(msra_none, keypoints, visible)
        assert np.abs(msra_error[inside & (border_distance >= 1)]).max() <= 2.0 + 1e-4
    assert counts["interior"] > 10000 and counts["border"] > 0
