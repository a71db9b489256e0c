"""benchmarks/peers_lsp.py's posekit rows on real photos: the scorer's inputs have the right shape, and
with a detector the person with the best pose score is kept, the whole image where nobody is found."""
from __future__ import annotations

import cv2
import numpy as np

from conftest import DATA, WEIGHTS, load_benchmark, require


def test_posekit_rows_with_and_without_detector(tmp_path):
    peers = load_benchmark("peers_lsp")
    detector = require(WEIGHTS / "rtmdet_nano_person_end2end.onnx")
    photo = str(require(DATA / "lsp" / "images" / "im1001.jpg"))
    blank = tmp_path / "blank.png"  # nobody to detect
    cv2.imwrite(str(blank), np.full((120, 90, 3), 127, np.uint8))
    plain, _ = peers.run_posekit([photo, str(blank)])
    found, seconds = peers.run_posekit([photo, str(blank)], detector=str(detector))
    assert plain.shape == found.shape == (2, len(peers.LIMBS), 3) and seconds > 0
    assert np.isfinite(found).all()
    # the blank image falls back to the whole image: the same answer as without a detector
    np.testing.assert_allclose(found[1], plain[1], atol=1e-3)
    # on the real photo the detector's crop is a different view of the same person: nearby, not equal
    torso = np.linalg.norm(plain[0, peers.LIMBS.index("right_shoulder"), :2]
                           - plain[0, peers.LIMBS.index("left_hip"), :2])
    assert np.median(np.linalg.norm(found[0, :, :2] - plain[0, :, :2], axis=1)) < torso
