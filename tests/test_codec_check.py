"""codec-check on real data: the associative-embedding codec's ceiling on coco_subset images."""
from __future__ import annotations

import argparse
import json

import pytest

from posekit.commands import codec_check as command
from posekit.inference.codec_check import codec_check


@pytest.mark.slow
def test_ideal_outputs_decode_to_near_perfect_oks(coco_subset) -> None:
    report = codec_check("associative_embedding", coco_subset / "person_keypoints_merged.json", max_images=6,
                         input_size=256)
    assert report["images"] == 6 and report["keypoint_set"] == "coco17"
    assert report["persons_decoded"] >= 1
    # Quantisation to 1/4 resolution at a 256 input costs a little; grouping must not lose people.
    assert report["AP"] > 0.85 and report["AR"] > 0.85
    assert report["decode_images_per_s"] > 0


def test_verb_prints_one_json_line(coco_subset, capsys) -> None:
    args = argparse.Namespace(codec="associative_embedding", gt=str(coco_subset / "person_keypoints_merged.json"),
                              keypoint_set=None, input=128, max_images=2, json=True,
                              out=None)
    assert command.run(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"AP", "AR", "decode_images_per_s", "persons_decoded"} <= set(report)


def test_unknown_codec_is_a_clear_error(coco_subset) -> None:
    with pytest.raises(KeyError, match="unknown codec"):
        codec_check("no_such_codec", coco_subset / "person_keypoints_merged.json", max_images=1)
