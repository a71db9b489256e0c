"""`posekit score`: protocol picked from the GT, readable table, --json last line, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.cli import main
from posekit.evaluation import score_files
from posekit.keypoints import get_keypoint_set


def _score(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["score", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_coco_table_and_json(xtcoco, capsys):
    rc, out, _ = _score(capsys, "--gt", str(xtcoco / "example_coco_val.json"),
                        "--results", str(xtcoco / "example_coco_preds.json"), "--json")
    assert rc == 0
    lines = out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["keypoint_set"] == "coco17" and summary["metric"] == "coco"
    assert round(summary["stats"]["AP"], 3) == 0.861 and round(summary["stats"]["AR"], 3) == 0.875
    table = "\n".join(lines[:-1])
    assert "AP50" in table and "0.861" in table and "0.993" in table


def test_results_for_part_of_the_set_are_said_to_be(xtcoco, tmp_path, capsys):
    """COCO's protocol counts the persons of images without a prediction as missed: correct, but results
    for part of a set read as a low AP, so the table says how many labelled images they cover."""
    gt = str(xtcoco / "example_coco_val.json")
    preds = json.loads((xtcoco / "example_coco_preds.json").read_text())
    rc, out, _ = _score(capsys, "--gt", gt, "--results", str(xtcoco / "example_coco_preds.json"), "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert rc == 0 and "note:" not in out and summary["covered_images"] == summary["labelled_images"] > 1
    first = preds[0]["image_id"]
    part = tmp_path / "part.json"
    part.write_text(json.dumps([p for p in preds if p["image_id"] == first]))
    rc, out, _ = _score(capsys, "--gt", gt, "--results", str(part), "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert rc == 0 and summary["covered_images"] == 1
    assert (f"note: the results predict on 1 of the {summary['labelled_images']} ground-truth images with "
            "labelled persons; the persons of the others count as missed") in out
    assert summary["stats"]["AP"] < 0.861


def test_crowdpose_and_wholebody_are_inferred(xtcoco, capsys):
    rc, out, _ = _score(capsys, "--gt", str(xtcoco / "example_crowdpose_val.json"),
                        "--results", str(xtcoco / "example_crowdpose_preds.json"), "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert rc == 0 and summary["keypoint_set"] == "crowdpose14" and summary["metric"] == "crowdpose"
    assert set(summary["stats"]) == {"AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP(E)", "AP(M)", "AP(H)"}
    assert "AP(H)" in out

    rc, out, _ = _score(capsys, "--gt", str(xtcoco / "example_wholebody_val.json"),
                        "--results", str(xtcoco / "example_wholebody_preds.json"), "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert rc == 0 and summary["keypoint_set"] == "coco_wholebody133" and summary["metric"] == "wholebody"
    assert list(summary["stats"]) == ["body", "foot", "face", "lefthand", "righthand", "hand", "wholebody"]
    assert round(summary["stats"]["wholebody"]["AP"], 3) == 0.642
    assert any(line.startswith("hand ") for line in out.splitlines())


def _write_lsp(tmp_path, offset: float) -> tuple[str, str]:
    kset = get_keypoint_set("lsp14")
    person = np.zeros((14, 3))
    person[:, 0] = np.arange(14) * 4.0
    person[:, 2] = 2
    person[kset.index("right_shoulder"), :2] = (0.0, 0.0)
    person[kset.index("left_hip"), :2] = (0.0, 100.0)  # torso 100 px: PCK@0.2 threshold 20 px
    gt = {"images": [{"id": 7, "file_name": "im7.jpg", "width": 200, "height": 200}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 60, 100],
                           "area": 6000.0, "num_keypoints": 14, "keypoints": person.reshape(-1).tolist()}],
          "categories": [{"id": 1, "name": "person", "keypoints": list(kset.names)}]}
    pred = person.copy()
    pred[kset.index("head_top"), 0] += offset
    results = [{"image_id": 7, "category_id": 1, "keypoints": pred.reshape(-1).tolist(), "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    return str(tmp_path / "gt.json"), str(tmp_path / "res.json")


def test_lsp_gt_scores_pck(tmp_path, capsys):
    gt, res = _write_lsp(tmp_path, offset=25.0)  # only the head top misses
    rc, out, _ = _score(capsys, "--gt", gt, "--results", res, "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert rc == 0 and summary["keypoint_set"] == "lsp14" and summary["metric"] == "pck"
    assert summary["stats"]["PCK@0.2"] == pytest.approx(13 / 14)
    assert summary["stats"]["head"] == 0.5 and summary["stats"]["knee"] == 1.0
    assert score_files(gt, res)["stats"] == summary["stats"]


def test_lsp_pck_names_both_totals(tmp_path, capsys):
    # LSP's total counts all 14 joints (neck and head top too); posekit's docs quote the 12 limb joints.
    gt, res = _write_lsp(tmp_path, offset=25.0)  # only the head top misses
    rc, out, _ = _score(capsys, "--gt", gt, "--results", res, "--json")
    lines = out.strip().splitlines()
    stats = json.loads(lines[-1])["stats"]
    assert rc == 0 and stats["total"] == stats["PCK@0.2"] == pytest.approx(13 / 14) and stats["limbs"] == 1.0
    assert "PCK@0.2 total (all 14 joints)  0.929" in lines
    assert "PCK@0.2 limbs (12 joints)      1.000" in lines


def test_errors_name_the_file(tmp_path, xtcoco, capsys):
    gt = str(xtcoco / "example_coco_val.json")
    rc, _, err = _score(capsys, "--gt", str(tmp_path / "missing.json"), "--results", gt)
    assert rc == 2 and "missing.json" in err and "not found" in err

    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    rc, _, err = _score(capsys, "--gt", gt, "--results", str(bad))
    assert rc == 2 and "bad.json" in err and "malformed JSON" in err

    image_id = json.loads((xtcoco / "example_coco_val.json").read_text())["images"][0]["id"]
    short = tmp_path / "short.json"
    short.write_text(json.dumps([{"image_id": image_id, "category_id": 1, "keypoints": [1.0] * 42, "score": 1}]))
    rc, _, err = _score(capsys, "--gt", gt, "--results", str(short))
    assert rc == 2 and "short.json" in err and "17 keypoints" in err and len(err.strip().splitlines()) == 1

    stray = tmp_path / "stray.json"
    stray.write_text(json.dumps([{"image_id": -5, "category_id": 1, "keypoints": [1.0] * 51, "score": 1}]))
    rc, _, err = _score(capsys, "--gt", gt, "--results", str(stray))
    assert rc == 2 and "stray.json" in err and "not in the ground truth" in err


def test_wrong_count_for_pck_and_unknown_set_are_errors(tmp_path, capsys):
    gt, _ = _write_lsp(tmp_path, offset=0.0)
    res = tmp_path / "res17.json"
    res.write_text(json.dumps([{"image_id": 7, "category_id": 1, "keypoints": [0.0] * 51, "score": 1}]))
    rc, _, err = _score(capsys, "--gt", gt, "--results", str(res))
    assert rc == 2 and "res17.json" in err and "14 keypoints" in err

    data = json.loads((tmp_path / "gt.json").read_text())
    data["categories"][0]["keypoints"] = [f"joint{i}" for i in range(14)]
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text(json.dumps(data))
    rc, _, err = _score(capsys, "--gt", str(unnamed), "--results", str(res))
    assert rc == 2 and "unnamed.json" in err and "--keypoint-set" in err


def test_annotation_ids_of_zero_or_below_do_not_change_the_numbers(xtcoco, tmp_path, capsys):
    # COCOeval records a match as the matched annotation's id, so id 0 (or -2) read as "no match".
    gt = json.loads((xtcoco / "example_coco_val.json").read_text())
    res = str(xtcoco / "example_coco_preds.json")
    for i, ann in enumerate(gt["annotations"]):
        ann["id"] = -i
    (tmp_path / "gt0.json").write_text(json.dumps(gt))
    rc, out, _ = _score(capsys, "--gt", str(tmp_path / "gt0.json"), "--results", res, "--json")
    assert rc == 0 and round(json.loads(out.strip().splitlines()[-1])["stats"]["AP"], 3) == 0.861


def test_undefined_statistics_are_none_and_an_empty_evaluation_is_an_error(tmp_path, capsys):
    gt, res = _write_lsp(tmp_path, offset=0.0)
    data = json.loads((tmp_path / "gt.json").read_text())
    data["categories"][0]["keypoints"] = list(get_keypoint_set("coco17").names)  # a COCO-17 GT: OKS AP
    data["annotations"][0]["keypoints"] = [0.0] * 51  # ...with no labelled keypoint
    (tmp_path / "empty.json").write_text(json.dumps(data))
    res17 = tmp_path / "res17.json"
    res17.write_text(json.dumps([{"image_id": 7, "category_id": 1, "keypoints": [1.0] * 51, "score": 1}]))
    rc, _, err = _score(capsys, "--gt", str(tmp_path / "empty.json"), "--results", str(res17))
    assert rc == 2 and "empty.json: nothing to evaluate" in err and len(err.strip().splitlines()) == 1

    data["annotations"][0]["keypoints"] = ([50.0, 50.0, 2] * 17)
    (tmp_path / "one.json").write_text(json.dumps(data))
    rc, out, _ = _score(capsys, "--gt", str(tmp_path / "one.json"), "--results", str(res17), "--json")
    stats = json.loads(out.strip().splitlines()[-1])["stats"]
    assert rc == 0 and stats["APl"] is None and stats["ARl"] is None  # area 6000: medium only
    assert "-1.000" not in out and "      -" in out
