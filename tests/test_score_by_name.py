"""`posekit score` on `posekit predict` output made without --images-json: its rows number images by
file position and keep each file's name, so they are matched to the GT by name (OKS and PCK alike);
rows that neither ids nor names place are an error that says how to get the GT's ids."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from posekit.cli import main
from posekit.keypoints import get_keypoint_set


def _score(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["score", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _by_position(gt: dict, results: list) -> list:
    """What `posekit predict FOLDER` writes: ids 0, 1, 2... in file-name order, and each row's file_name."""
    names = {im["id"]: im["file_name"] for im in gt["images"]}
    position = {name: i for i, name in enumerate(sorted(names.values()))}
    return [{**r, "image_id": position[names[r["image_id"]]], "file_name": names[r["image_id"]]} for r in results]


def test_coco_results_numbered_by_position_are_matched_by_file_name(xtcoco, tmp_path, capsys):
    gt_path = xtcoco / "example_coco_val.json"
    gt = json.loads(gt_path.read_text())
    rows = _by_position(gt, json.loads((xtcoco / "example_coco_preds.json").read_text()))
    res = tmp_path / "results.json"
    res.write_text(json.dumps(rows))
    rc, out, err = _score(capsys, "--gt", str(gt_path), "--results", str(res), "--json")
    assert rc == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert round(summary["stats"]["AP"], 3) == 0.861 and summary["matched_by_file_name"] == len(rows)
    assert f"{len(rows)} predictions matched to its images by file_name" in out

    # Ids that are all the GT's but name other files than the rows' file_names: the names decide.
    names = {im["id"]: im["file_name"] for im in gt["images"]}
    ids = sorted(names)
    res.write_text(json.dumps([{**r, "image_id": ids[(ids.index(r["image_id"]) + 1) % len(ids)],
                                "file_name": names[r["image_id"]]}
                               for r in json.loads((xtcoco / "example_coco_preds.json").read_text())]))
    rc, out, err = _score(capsys, "--gt", str(gt_path), "--results", str(res), "--json")
    assert rc == 0 and round(json.loads(out.strip().splitlines()[-1])["stats"]["AP"], 3) == 0.861


def test_names_that_do_not_match_are_an_error_with_the_fix(xtcoco, tmp_path, capsys):
    gt_path = xtcoco / "example_coco_val.json"
    gt = json.loads(gt_path.read_text())
    rows = _by_position(gt, json.loads((xtcoco / "example_coco_preds.json").read_text()))
    rows[0]["file_name"] = "holiday.jpg"
    res = tmp_path / "results.json"
    res.write_text(json.dumps(rows))
    rc, _, err = _score(capsys, "--gt", str(gt_path), "--results", str(res))
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1
    assert "results.json" in lines[0] and "not in the ground truth" in lines[0] and "holiday.jpg" in lines[0]
    assert f"--images-json {gt_path}" in lines[0]


def test_pck_results_numbered_by_position_are_matched_by_file_name(tmp_path, capsys):
    kset = get_keypoint_set("lsp14")
    rng = np.random.default_rng(0)
    images, annotations, results = [], [], []
    for n, image_id in enumerate((1001, 1002, 1003)):
        person = np.concatenate([rng.uniform(0, 200, (14, 2)), np.full((14, 1), 2.0)], axis=1)
        images.append({"id": image_id, "file_name": f"lsp/images/im{image_id}.jpg", "width": 200, "height": 200})
        annotations.append({"id": n + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                            "bbox": [0, 0, 200, 200], "area": 40000.0, "num_keypoints": 14,
                            "keypoints": person.reshape(-1).tolist()})
        pred = person.copy()
        pred[n, 0] += 500.0  # each image misses one joint
        results.append({"image_id": image_id, "category_id": 1, "score": 0.9, "keypoints": pred.reshape(-1).tolist()})
    gt = {"images": images, "annotations": annotations,
          "categories": [{"id": 1, "name": "person", "keypoints": list(kset.names)}]}
    gt_path, res = tmp_path / "lsp_test.json", tmp_path / "results.json"
    gt_path.write_text(json.dumps(gt))
    res.write_text(json.dumps(results))
    rc, out, _ = _score(capsys, "--gt", str(gt_path), "--results", str(res), "--json")
    by_id = json.loads(out.strip().splitlines()[-1])["stats"]
    assert rc == 0 and by_id["PCK@0.2"] == pytest.approx(39 / 42)

    rows = _by_position(gt, results)
    for row in rows:
        row["file_name"] = row["file_name"].split("/")[-1]  # predict keeps the basename
    res.write_text(json.dumps(rows))
    rc, out, err = _score(capsys, "--gt", str(gt_path), "--results", str(res), "--json")
    assert rc == 0, err
    assert json.loads(out.strip().splitlines()[-1])["stats"] == by_id
    assert "3 predictions matched to its images by file_name" in out

    del rows[1]["file_name"]  # one row the names cannot place: the ids are not the GT's either
    res.write_text(json.dumps(rows))
    rc, _, err = _score(capsys, "--gt", str(gt_path), "--results", str(res))
    assert rc == 2 and "not in the ground truth" in err and "--images-json" in err


def test_predict_then_score_without_images_json(tiny_model, coco_subset, tmp_path, capsys):
    """The two commands end to end on real COCO photos."""
    gt = json.loads((coco_subset / "person_keypoints_merged.json").read_text())
    images = [im for im in gt["images"] if im["file_name"] in ("000000000139.jpg", "000000000785.jpg")]
    ids = {im["id"] for im in images}
    folder = tmp_path / "images"
    folder.mkdir()
    for im in images:
        shutil.copy(coco_subset / "images" / im["file_name"], folder / im["file_name"])
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps({**gt, "images": images,
                                   "annotations": [a for a in gt["annotations"] if a["image_id"] in ids]}))
    assert main(["predict", str(folder), "--out", str(tmp_path / "out"), "--checkpoint", str(tiny_model),
                 "--no-flip", "--no-draw"]) == 0
    capsys.readouterr()
    rc, out, err = _score(capsys, "--gt", str(gt_path), "--results", str(tmp_path / "out" / "results.json"))
    assert rc == 0, err
    assert "2 predictions matched to its images by file_name" in out
