"""codec-check of the simplepose codec on real COCO images: ideal targets through the full assignment."""
from __future__ import annotations

import pytest

from posekit.inference.codec_check import codec_check


@pytest.mark.slow
def test_codec_check_on_coco_subset(coco_subset):
    report = codec_check("simplepose", coco_subset / "person_keypoints_merged.json", max_images=12)
    # measured on all 275 images: AP 0.893, AR 0.905; the ceiling is not 1 (lone keypoints, crowds)
    assert report["AP"] > 0.75 and report["AR"] > 0.75
    assert report["persons_decoded"] > 0
