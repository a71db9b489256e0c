"""`posekit info`: parameters and MACs against the published RTMPose figures."""
from __future__ import annotations

import argparse
import json

import pytest

from posekit.commands import info

# mmpose projects/rtmpose README, COCO-17 (AIC+COCO) models: params (M), GFLOPs (= GMACs).
PUBLISHED = {
    ("rtmpose-t", "256x192"): (3.34, 0.36),
    ("rtmpose-s", "256x192"): (5.47, 0.68),
    ("rtmpose-m", "256x192"): (13.59, 1.93),
    ("rtmpose-l", "256x192"): (27.66, 4.16),
    ("rtmpose-m", "384x288"): (13.72, 4.33),
    ("rtmpose-l", "384x288"): (27.79, 9.35),
}


def run_info(argv: list[str], capsys) -> str:
    parser = argparse.ArgumentParser(prog="posekit")
    info.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["info", *argv])
    assert args.run(args) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("model,hw", sorted(PUBLISHED))
def test_published_params_and_macs(model, hw, capsys):
    params_m, gmacs = PUBLISHED[(model, hw)]
    out = json.loads(run_info([model, "--input", hw, "--json"], capsys).splitlines()[-1])
    assert out["params_m"] == pytest.approx(params_m, rel=0.01)
    assert out["gmacs"] == pytest.approx(gmacs, rel=0.03)
    assert out["keypoint_set"] == "coco17" and out["input_hw"] == [int(v) for v in hw.split("x")]


def test_whole_body_matches_the_dwpose_table(capsys):
    # DWPose-l 256x192 on COCO-WholeBody (133 keypoints): 4.5 GFLOPs.
    out = json.loads(run_info(["rtmpose-l", "--keypoint-set", "coco_wholebody133", "--json"], capsys).splitlines()[-1])
    assert out["num_keypoints"] == 133 and out["gmacs"] == pytest.approx(4.5, rel=0.03)


def test_text_output_and_bad_input(capsys):
    out = run_info(["rtmpose-t"], capsys)
    assert "3.34 M" in out and "256x192" in out
    parser = argparse.ArgumentParser(prog="posekit")
    info.add_parser(parser.add_subparsers(dest="verb"))
    with pytest.raises(SystemExit):
        parser.parse_args(["info", "rtmpose-t", "--input", "256by192"])
    assert "is not HxW" in capsys.readouterr().err
