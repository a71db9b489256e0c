"""`posekit predict` on folders of images: the paper cuts a new user hits first (issue #17) — file
names in results, a corrupt image skipped, a.jpg and a.png kept apart, a word when no keypoint clears
--kpt-threshold, `posekit detect` output accepted, a clear error for an absent CUDA."""
from __future__ import annotations

import json

import pytest
import torch

from posekit.cli import main


@pytest.fixture
def folder(shared_data, tmp_path):
    """a.jpg and a.png (same stem), b.jpg, and a corrupt c.jpg."""
    import cv2
    images = tmp_path / "images"
    images.mkdir()
    photo = cv2.resize(cv2.imread(str(shared_data / "images" / "zidane.jpg")), (128, 72))
    cv2.imwrite(str(images / "a.jpg"), photo)
    cv2.imwrite(str(images / "a.png"), photo[:, ::-1])
    cv2.imwrite(str(images / "b.jpg"), photo[::-1])
    (images / "c.jpg").write_bytes((images / "b.jpg").read_bytes()[:200])  # cut off mid-file
    return images


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["predict", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_corrupt_image_is_skipped_and_counted_and_the_rest_written(tiny_model, folder, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, str(folder), "--out", str(out), "--checkpoint", str(tiny_model),
                               "--no-flip", "--json")
    assert code == 0
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "c.jpg" in warnings[0] and "skipped" in warnings[0]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["images"] == 3 and summary["skipped"] == 1 and summary["poses"] == 3
    assert "(1 unreadable image skipped)" in stdout
    rows = json.loads((out / "results.json").read_text())
    assert sorted(r["file_name"] for r in rows) == ["a.jpg", "a.png", "b.jpg"]
    # Rows keep the image ids of files numbered in sorted order (a.jpg 0, a.png 1, b.jpg 2, c.jpg 3).
    assert {r["file_name"]: r["image_id"] for r in rows} == {"a.jpg": 0, "a.png": 1, "b.jpg": 2}
    # a.jpg and a.png differ only in suffix: neither drawing overwrites the other.
    assert sorted(p.name for p in out.glob("*.jpg")) == ["a_jpg_pose.jpg", "a_png_pose.jpg", "b_pose.jpg"]


def test_a_word_when_no_keypoint_clears_the_threshold(tiny_model, folder, tmp_path, capsys):
    (folder / "c.jpg").unlink()
    # Scores of a random model are far below 1.0: every image is below a threshold of 1.0.
    code, stdout, _ = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--no-flip", "--no-draw", "--kpt-threshold", "1.0", "--json")
    assert code == 0
    notes = [line for line in stdout.splitlines() if "--kpt-threshold" in line]
    assert notes == ["3 images had no keypoint above --kpt-threshold 1.0"]  # --no-draw: no drawing to speak of
    assert json.loads(stdout.strip().splitlines()[-1])["no_keypoint_above_threshold"] == 3
    code, stdout, _ = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--no-flip", "--no-draw", "--kpt-threshold", "-1")
    assert code == 0 and "--kpt-threshold" not in stdout


def test_detect_output_is_accepted_by_predict_detections(tiny_model, folder, tmp_path, capsys):
    (folder / "c.jpg").unlink()
    # What `posekit detect` writes: a COCO JSON, boxes as annotations, ids given by its own 'images'.
    detections = {"images": [{"id": 10, "file_name": "a.jpg", "width": 128, "height": 72},
                             {"id": 11, "file_name": "a.png", "width": 128, "height": 72},
                             {"id": 12, "file_name": "b.jpg", "width": 128, "height": 72}],
                  "annotations": [{"id": 1, "image_id": 10, "category_id": 1, "bbox": [10, 5, 40, 60], "score": 0.9},
                                  {"id": 2, "image_id": 10, "category_id": 1, "bbox": [70, 5, 40, 60], "score": 0.8},
                                  {"id": 3, "image_id": 12, "category_id": 1, "bbox": [0, 0, 50, 50], "score": 0.7}],
                  "categories": [{"id": 1, "name": "person"}]}
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(detections))
    code, stdout, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                               "--detections", str(path), "--no-flip", "--no-draw", "--json")
    assert code == 0, stderr
    rows = json.loads((tmp_path / "o" / "results.json").read_text())
    assert sorted((r["image_id"], r["file_name"]) for r in rows) == [(10, "a.jpg"), (10, "a.jpg"), (12, "b.jpg")]
    # The plain COCO detections list: its ids 10 and 12 are no file's position (0..2), so they need the
    # ids' own 'images' (--images-json); a malformed file is one line naming it.
    path.write_text(json.dumps(detections["annotations"]))
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--detections", str(path), "--no-flip", "--no-draw")
    assert code == 2 and "boxes.json: 2 of its 2 image ids match no file" in stderr and "--images-json" in stderr
    (tmp_path / "images.json").write_text(json.dumps({"images": detections["images"]}))
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--detections", str(path), "--images-json", str(tmp_path / "images.json"),
                          "--no-flip", "--no-draw")
    rows = json.loads((tmp_path / "o" / "results.json").read_text())
    assert code == 0 and sorted(r["file_name"] for r in rows) == ["a.jpg", "a.jpg", "b.jpg"]
    path.write_text(json.dumps({"boxes": []}))
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--detections", str(path))
    assert code == 2 and "boxes.json" in stderr and len(stderr.strip().splitlines()) == 1


def test_a_corrupt_single_image_or_a_folder_of_them_is_an_error(tiny_model, folder, tmp_path, capsys):
    code, _, stderr = run(capsys, str(folder / "c.jpg"), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model))
    assert code == 2 and "c.jpg" in stderr and len(stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("x.jpg", "y.png"):
        (bad / name).write_bytes(b"")
    code, _, stderr = run(capsys, str(bad), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model))
    assert code == 2 and "none of the 2 images could be read" in stderr
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without a usable CUDA device")
def test_device_cuda_without_cuda_is_one_line(tiny_model, folder, tmp_path, capsys):
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--device", "cuda")
    assert code == 2 and stderr.startswith("posekit predict: error: --device cuda: ") and "--device cpu" in stderr
    assert len(stderr.strip().splitlines()) == 1
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--device", "gpu")
    assert code == 2 and "--device gpu: not a device name" in stderr


def test_video_options_on_images_are_an_error_not_ignored(tiny_model, folder, tmp_path, capsys):
    code, _, stderr = run(capsys, str(folder), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                          "--track")
    assert code == 2 and "--track, --smooth and --max-frames are for a video or a camera" in stderr


def test_a_zoo_name_as_checkpoint_says_what_the_cli_wants(folder, tmp_path, capsys):
    """`--checkpoint rtmpose-t` names an architecture, not weights: one line in the CLI's own words (no
    Python keyword to pass), before any image is read."""
    assert main(["predict", str(folder), "--out", str(tmp_path / "out"), "--checkpoint", "rtmpose-t"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("posekit predict: error: --checkpoint rtmpose-t: a zoo name alone has no trained weights; give "
                   "a checkpoint or model file of it (or leave --checkpoint out for the default model)")
