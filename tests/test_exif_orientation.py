"""Photos stored sideways with an EXIF orientation (as phones write them): inference reads them upright,
as cv2.imread and image viewers show them; datasets keep the stored frame their annotations are in."""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from posekit.data.io import image_size, load_image


def write_rotated_jpeg(path: Path, upright: np.ndarray) -> Path:
    """`upright` (BGR) stored turned 90 degrees anticlockwise, with EXIF orientation 6 ("turn 90
    clockwise to display"): the file a phone held upright writes."""
    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(np.rot90(upright)), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    # One IFD entry: tag 0x0112 (Orientation), type SHORT, count 1, value 6; big-endian TIFF header.
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    data = jpeg.tobytes()
    path.write_bytes(data[:2] + app1 + data[2:])
    return path


def test_inference_reads_upright_and_datasets_keep_the_stored_frame(tmp_path):
    upright = np.zeros((60, 40, 3), np.uint8)
    upright[:10] = (0, 0, 255)  # a red band along the top of the upright picture (BGR)
    path = write_rotated_jpeg(tmp_path / "phone.jpg", upright)
    shown = load_image(path, orientation=True)
    assert shown.shape == (60, 40, 3) and shown[:8, :, 0].mean() > 200  # red on top, as viewers show it
    assert np.array_equal(shown[..., ::-1], cv2.imread(str(path)))  # what OpenCV users get
    stored = load_image(path)  # datasets: the stored pixels, as the header's size says
    assert stored.shape == (40, 60, 3) and image_size(path) == (60, 40)


def test_api_takes_a_sideways_photo_as_its_array(tmp_path, tiny_model):
    import posekit
    upright = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    path = write_rotated_jpeg(tmp_path / "phone.jpg", upright)
    model = posekit.load(tiny_model)
    from_path, from_array = model(path), model(cv2.imread(str(path)))
    assert from_path[0]["bbox"] == from_array[0]["bbox"] == (0.0, 0.0, 48.0, 64.0)
    np.testing.assert_allclose(from_path[0]["keypoints"], from_array[0]["keypoints"], atol=1e-4)
