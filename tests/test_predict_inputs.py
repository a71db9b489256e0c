"""`posekit predict` inputs that used to go wrong quietly or loudly: a plain COCO detections list whose
real image ids were read as file positions (boxes on the wrong photos), one bad box aborting a run, an
--out under a file (a traceback), and a drawing hint printed with --no-draw."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from posekit.cli import main

COCO_FILES = ("000000000139.jpg", "000000000785.jpg", "000000000790.jpg")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["predict", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def coco_folder(coco_subset, tmp_path):
    """Three real COCO photos, their GT ('gt.json', those images only) and the GT's person boxes as a
    plain COCO detections list with the real image ids ('dets.json')."""
    gt = json.loads((coco_subset / "person_keypoints_merged.json").read_text())
    images = [im for im in gt["images"] if im["file_name"] in COCO_FILES]
    ids = {im["id"] for im in images}
    annotations = [a for a in gt["annotations"] if a["image_id"] in ids and not a.get("iscrowd")]
    folder = tmp_path / "images"
    folder.mkdir()
    for name in COCO_FILES:
        shutil.copy(coco_subset / "images" / name, folder / name)
    (tmp_path / "gt.json").write_text(json.dumps({**gt, "images": images, "annotations": annotations}))
    dets = [{"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 1.0} for a in annotations]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    return folder, {im["file_name"]: im["id"] for im in images}, dets


def test_real_coco_ids_are_not_read_as_file_positions(tiny_model, coco_folder, tmp_path, capsys):
    folder, ids, dets = coco_folder
    out = tmp_path / "out"
    code, _, stderr = run(capsys, str(folder), "--out", str(out), "--checkpoint", str(tiny_model),
                          "--detections", str(tmp_path / "dets.json"), "--no-flip", "--no-draw")
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "dets.json" in lines[0] and f"{len(ids)} of its {len(ids)} image ids match no file" in lines[0]
    assert "--images-json GT.json" in lines[0] and "'images' section" in lines[0]
    assert not (out / "results.json").exists()

    # With the GT's ids each file gets its own boxes: one pose per GT person, on the right file.
    code, _, stderr = run(capsys, str(folder), "--out", str(out), "--checkpoint", str(tiny_model),
                          "--detections", str(tmp_path / "dets.json"), "--images-json", str(tmp_path / "gt.json"),
                          "--no-flip", "--no-draw")
    rows = json.loads((out / "results.json").read_text())
    assert code == 0, stderr
    assert sorted((r["file_name"], r["image_id"]) for r in rows) == sorted(
        (name, ids[name]) for name in ids for d in dets if d["image_id"] == ids[name])


def test_detection_ids_that_are_file_positions_still_work(tiny_model, coco_folder, tmp_path, capsys):
    folder, ids, _ = coco_folder
    positional = [{"image_id": 0, "bbox": [10, 10, 200, 300], "score": 0.9},
                  {"image_id": 2, "bbox": [50, 20, 100, 200], "score": 0.8}]
    (tmp_path / "pos.json").write_text(json.dumps(positional))
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--detections", str(tmp_path / "pos.json"), "--no-flip", "--no-draw")
    rows = json.loads((tmp_path / "o" / "results.json").read_text())
    assert code == 0, stderr
    assert sorted((r["file_name"], r["image_id"]) for r in rows) == [(COCO_FILES[0], 0), (COCO_FILES[2], 2)]


def test_a_bad_box_is_skipped_with_a_warning_naming_it(tiny_model, coco_folder, tmp_path, capsys):
    folder, _, _ = coco_folder
    boxes = [{"image_id": 0, "bbox": [10, 10, 0, 300], "score": 0.9},        # zero width
             {"image_id": 0, "bbox": [10, 10, 200, 300], "score": 0.9},      # the good one
             {"image_id": 1, "bbox": [10, 10, -5, 30], "score": 0.9},        # negative width
             {"image_id": 1, "bbox": [10, float("nan"), 50, 30], "score": 0.9},
             {"image_id": 2, "bbox": [10, 10, 50], "score": 0.9}]            # three numbers
    path = tmp_path / "bad_boxes.json"
    path.write_text(json.dumps(boxes))  # Python's json writes (and reads) NaN
    code, stdout, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                               "--detections", str(path), "--no-flip", "--no-draw", "--json")
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 4
    for index, image_id in ((0, 0), (2, 1), (3, 1), (4, 2)):
        assert any(f"bad_boxes.json: detection {index} (image_id {image_id})" in w and w.endswith("skipped")
                   for w in warnings)
    rows = json.loads((tmp_path / "o" / "results.json").read_text())
    # Only the good box is posed; the images whose boxes were all bad get no pose (not the whole image).
    assert [r["file_name"] for r in rows] == [COCO_FILES[0]]
    assert json.loads(stdout.strip().splitlines()[-1])["poses"] == 1


def test_out_under_a_file_is_one_line_before_any_work(tiny_model, shared_data, tmp_path, capsys):
    image = str(shared_data / "images" / "grace_hopper.jpg")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for out in (blocker / "x", blocker):
        code, _, stderr = run(capsys, image, "--out", str(out), "--checkpoint", str(tiny_model), "--no-flip")
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1, stderr
        assert lines[0].startswith(f"posekit predict: error: --out {out}: cannot create this folder")


def test_out_under_a_file_for_a_video(tiny_model, tmp_path, capsys):
    import cv2
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for _ in range(2):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    (tmp_path / "a_file").write_text("")
    code, _, stderr = run(capsys, str(video), "--out", str(tmp_path / "a_file" / "x"), "--checkpoint",
                          str(tiny_model), "--no-flip")
    assert code == 2 and "--out" in stderr and len(stderr.strip().splitlines()) == 1


def test_the_threshold_note_speaks_of_drawings_only_when_there_are_some(tiny_model, shared_data, tmp_path, capsys):
    image = str(shared_data / "images" / "grace_hopper.jpg")
    common = ["--checkpoint", str(tiny_model), "--no-flip", "--kpt-threshold", "1.0"]
    code, stdout, _ = run(capsys, image, "--out", str(tmp_path / "o"), "--no-draw", *common)
    assert code == 0 and "1 images had no keypoint above --kpt-threshold 1.0" in stdout
    assert "drawing" not in stdout
    code, stdout, _ = run(capsys, image, "--out", str(tmp_path / "o"), *common)
    assert code == 0 and "so their drawings show boxes only" in stdout
