"""`posekit score` across keypoint sets: results of one set against GT of another, on the joints both
name alike; the expected numbers are worked out by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from posekit.cli import main
from posekit.keypoints import get_keypoint_set

COCO, LSP = get_keypoint_set("coco17"), get_keypoint_set("lsp14")
SHARED = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
          "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def _score(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["score", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _person(kset, rng) -> np.ndarray:
    """One person in `kset`: every joint labelled, the shared joints at fixed positions by name."""
    fixed = {name: (100.0 + 7 * i, 50.0 + 13 * i) for i, name in enumerate(SHARED)}
    points = np.zeros((kset.num_keypoints, 3))
    for j, name in enumerate(kset.names):
        points[j] = (*fixed.get(name, rng.uniform(0, 300, 2)), 2)
    return points


def _write(tmp_path, gt_set, gt_points, area, results_points) -> tuple[str, str]:
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 400, "height": 400}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": area,
                           "bbox": [0, 0, 300, 300], "num_keypoints": gt_set.num_keypoints,
                           "keypoints": gt_points.reshape(-1).tolist()}],
          "categories": [{"id": 1, "name": "person", "keypoints": list(gt_set.names)}]}
    results = [{"image_id": 1, "category_id": 1, "score": 0.9, "keypoints": results_points.reshape(-1).tolist()}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    return str(tmp_path / "gt.json"), str(tmp_path / "res.json")


def test_coco17_results_on_lsp_gt_score_pck_on_the_12_shared_joints(tmp_path, capsys):
    rng = np.random.default_rng(0)
    gt_points = _person(LSP, rng)
    # Torso (right shoulder -> left hip) = |(107, 63) - (142, 128)| = sqrt(35^2 + 65^2) = 73.82 px; PCK@0.2
    # threshold 14.76 px. The COCO prediction misses only the left wrist (by 20 px) of the shared joints;
    # its face joints (random) and LSP's neck and head top (never predicted) are not scored: 11 / 12.
    prediction = _person(COCO, rng)
    prediction[COCO.index("left_wrist"), 0] += 20.0
    gt, res = _write(tmp_path, LSP, gt_points, 10000.0, prediction)
    rc, out, err = _score(capsys, "--gt", gt, "--results", res, "--results-set", "coco17", "--json")
    assert rc == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["metric"] == "pck" and summary["keypoint_set"] == "lsp14" and summary["results_set"] == "coco17"
    assert summary["joints"] == [n for n in LSP.names if n in SHARED]  # in the GT set's order
    stats = summary["stats"]
    assert stats["PCK@0.2"] == pytest.approx(11 / 12) and stats["wrist"] == 0.5 and stats["knee"] == 1.0
    assert "head" not in stats  # neither neck nor head top is shared
    assert "scored on the 12 joints both name" in out and "left_wrist" in out


def test_lsp14_results_on_coco_gt_score_oks_with_the_shared_joints_sigmas(tmp_path, capsys):
    rng = np.random.default_rng(1)
    gt_points = _person(COCO, rng)
    prediction = _person(LSP, rng)
    # Only the left hip is off, by d with exp(-d^2 / (2 area (2 sigma)^2)) = 0.2, sigma = 0.107:
    # OKS over the 12 shared joints = (11 + 0.2) / 12 = 0.9333, matched at thresholds 0.50...0.90 of
    # 0.50:0.05:0.95, so AP = 9 / 10. (Scored over all 17 COCO joints it would be 11.2 / 17 = 0.66: AP 0.4.)
    area = 10000.0
    d = math.sqrt(2 * area * (2 * 0.107) ** 2 * math.log(5))
    prediction[LSP.index("left_hip"), 0] += d
    gt, res = _write(tmp_path, COCO, gt_points, area, prediction)
    rc, out, err = _score(capsys, "--gt", gt, "--results", res, "--results-set", "lsp14", "--json")
    assert rc == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["metric"] == "coco" and summary["joints"] == SHARED
    stats = summary["stats"]
    assert (stats["AP"], stats["AP50"], stats["AP75"]) == pytest.approx((0.9, 1.0, 1.0))
    assert stats["APm"] is None and stats["APl"] == pytest.approx(0.9)  # area 10000 > 96^2: large only
    assert "-1" not in out.replace(str(tmp_path), "").replace("--", "")  # pytest's tmp dirs are named pytest-1NN


def test_the_results_set_must_be_named_or_match_and_share_a_joint(tmp_path, capsys):
    rng = np.random.default_rng(2)
    gt, res = _write(tmp_path, COCO, _person(COCO, rng), 10000.0, _person(LSP, rng))
    rc, _, err = _score(capsys, "--gt", gt, "--results", res)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "res.json" in err
    assert "--results-set" in err and "crowdpose14, lsp14" in err  # the built-in sets with 14 joints
    rc, _, err = _score(capsys, "--gt", gt, "--results", res, "--results-set", "mpii16")
    assert rc == 2 and "res.json" in err and "'mpii16' has 16 keypoints" in err

    custom = tmp_path / "tools.json"
    custom.write_text(json.dumps({"name": "tools", "names": [f"handle{i}" for i in range(14)]}))
    rc, _, err = _score(capsys, "--gt", gt, "--results", res, "--results-set", str(custom))
    assert rc == 2 and "shares no joint" in err and "res.json" in err
