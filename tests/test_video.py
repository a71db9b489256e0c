"""Video: track ids and One-Euro smoothing on synthetic sequences of moving people, and
`posekit predict VIDEO` end to end on a small video made from a real photo."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.inference.smoothing import OneEuroFilter, PoseSmoother
from posekit.inference.tracking import PoseTracker, box_iou, oks
from posekit.keypoints import get_keypoint_set

SIGMAS = get_keypoint_set("coco17").sigmas
# A standing person's 17 COCO keypoints in a 100 x 200 box at the origin (x, y).
BODY = np.array([[50, 20], [45, 15], [55, 15], [40, 18], [60, 18], [30, 50], [70, 50], [25, 90], [75, 90],
                 [22, 125], [78, 125], [38, 120], [62, 120], [36, 160], [64, 160], [35, 195], [65, 195]], float)


def person(x: float, y: float = 0.0, size: float = 1.0, score: float = 0.9) -> dict:
    keypoints = np.column_stack([BODY * size + [x, y], np.full(len(BODY), score)]).astype(np.float32)
    return {"keypoints": keypoints, "bbox": (x, y, 100 * size, 200 * size), "score": score}


def test_oks_and_iou_match_hand_computed_values():
    a = person(0)["keypoints"]
    b = a.copy()
    b[:, 0] += 10
    # Each keypoint 10 px off in a 100 x 200 box: exp(-100 / (2 * 20000 * (2 sigma)^2)), averaged.
    expected = np.mean(np.exp(-100 / (2 * 20000 * (2 * np.asarray(SIGMAS)) ** 2)))
    assert oks(a, b, np.array([0, 0, 100, 200]), np.asarray(SIGMAS), np.ones(17, bool)) == pytest.approx(expected)
    assert box_iou(np.array([0, 0, 10, 10]), np.array([5, 0, 10, 10])) == pytest.approx(50 / 150)
    assert box_iou(np.array([0, 0, 10, 10]), np.array([20, 0, 10, 10])) == 0.0


@pytest.mark.parametrize("metric", ["oks", "iou"])
def test_a_walking_person_keeps_one_id(metric):
    tracker = PoseTracker(SIGMAS, metric=metric)
    ids = [tracker.update([person(12.0 * t, 3.0 * t)]) for t in range(30)]
    assert ids == [[0]] * 30


def test_two_people_crossing_keep_their_ids():
    # Same size, same height: at frame 10 they stand in exactly the same place. Matching against the
    # last positions alone would leave frame 11 a tie; each track's motion carries it through.
    tracker = PoseTracker(SIGMAS)
    walker_ids = []
    for t in range(21):
        right, left = person(20.0 * t), person(400.0 - 20.0 * t)
        order = [right, left] if t % 2 else [left, right]  # detector output order means nothing
        ids = tracker.update(order)
        walker_ids.append((ids[0], ids[1]) if t % 2 else (ids[1], ids[0]))
    first = walker_ids[0]
    assert first[0] != first[1]
    assert all(pair == first for pair in walker_ids[11:]) and all(pair == first for pair in walker_ids[:10])


def test_a_person_missing_for_frames_comes_back_with_the_same_id_and_a_newcomer_gets_a_new_one():
    tracker = PoseTracker(SIGMAS, max_age=3)
    a, b = person(0), person(300, size=0.8)
    assert tracker.update([a, b]) == [0, 1]
    assert tracker.update([a]) == [0]              # b hidden for one frame
    assert tracker.update([b, a]) == [1, 0]
    for _ in range(4):                             # b gone longer than max_age: its track is dropped
        tracker.update([a])
    assert tracker.update([a, b]) == [0, 2]
    assert tracker.update([]) == [] and tracker.update([person(600)]) == [3]


def test_low_score_keypoints_fall_back_to_boxes():
    tracker = PoseTracker(SIGMAS)
    assert tracker.update([person(0, score=0.1)]) == [0]
    assert tracker.update([person(5, score=0.1)]) == [0]    # IoU 0.9: continued
    assert tracker.update([person(200, score=0.1)]) == [1]  # no overlap: someone else


def test_tracker_rejects_bad_parameters():
    with pytest.raises(ValueError, match="metric"):
        PoseTracker(SIGMAS, metric="l2")
    with pytest.raises(ValueError, match="threshold"):
        PoseTracker(SIGMAS, threshold=2.0)


def run_filter(one_euro: OneEuroFilter, signal: np.ndarray, fps: float = 30.0, scale: float = 300.0) -> np.ndarray:
    return np.array([one_euro(np.array([[x, 0.0]]), i / fps, scale)[0, 0] for i, x in enumerate(signal)])


def test_one_euro_removes_jitter_at_rest_and_follows_a_step():
    rng = np.random.default_rng(0)
    truth = np.where(np.arange(195) < 150, 100.0, 200.0)  # a keypoint at rest, then a jump of 1/3 person
    noisy = truth + rng.normal(0, 2.0, len(truth))
    smoothed = run_filter(OneEuroFilter(), noisy)
    raw_error = np.std(noisy[30:150] - truth[30:150])
    smooth_error = np.std(smoothed[30:150] - truth[30:150])
    assert smooth_error < 0.5 * raw_error                  # about 0.4x with the default parameters
    settled = np.flatnonzero(np.abs(smoothed[150:] - 200.0) < 5.0)[0]
    assert settled <= 3                                    # within 5 px of the new place in 3 frames
    assert np.abs(smoothed[160:] - 200.0).max() < 3.0
    # A plain low-pass at the resting cutoff (beta 0) smooths as well but lags the jump much longer.
    plain = run_filter(OneEuroFilter(beta=0.0), noisy)
    assert np.flatnonzero(np.abs(plain[150:] - 200.0) < 5.0)[0] > 3 * max(settled, 1)


def test_one_euro_speed_is_in_person_sizes_so_resolution_does_not_matter():
    rng = np.random.default_rng(1)
    signal = np.cumsum(rng.normal(0, 3.0, 60))
    small = run_filter(OneEuroFilter(), signal, scale=300.0)
    large = run_filter(OneEuroFilter(), signal * 4, scale=1200.0)  # the same video at 4x the resolution
    np.testing.assert_allclose(large, small * 4, rtol=1e-9, atol=1e-9)


def test_pose_smoother_filters_each_track_apart_and_keeps_scores():
    smoother = PoseSmoother()
    rng = np.random.default_rng(2)
    errors_raw, errors_smooth = [], []
    for t in range(40):
        persons = []
        for track_id, x in ((0, 0.0), (7, 500.0)):
            p = person(x)
            p["keypoints"][:, :2] += rng.normal(0, 2.0, (17, 2))
            p["track_id"] = track_id
            persons.append(p)
        out = smoother(persons, t / 30.0)
        if t >= 10:
            for p, q, x in zip(persons, out, (0.0, 500.0)):
                errors_raw.append(p["keypoints"][:, :2] - BODY - [x, 0])
                errors_smooth.append(q["keypoints"][:, :2] - BODY - [x, 0])
        assert [q["track_id"] for q in out] == [0, 7]
        np.testing.assert_array_equal(out[1]["keypoints"][:, 2], persons[1]["keypoints"][:, 2])
    assert np.std(errors_smooth) < 0.5 * np.std(errors_raw)


def test_one_euro_rejects_bad_parameters():
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0.0)
    with pytest.raises(ValueError, match="beta"):
        OneEuroFilter(beta=float("nan"))


def write_video(path, photo, frames: int, fps: float = 10.0):
    image = cv2.imread(str(photo))
    image = cv2.resize(image, (160, 96))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 96))
    for t in range(frames):
        writer.write(np.roll(image, 4 * t, axis=1))  # the scene pans right
    writer.release()
    return path


def count_frames(path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_predict_video_writes_one_line_per_frame_and_a_video_of_the_same_length(tiny_model, shared_data, tmp_path,
                                                                              capsys):
    video = write_video(tmp_path / "pan.mp4", shared_data / "images" / "zidane.jpg", 10)
    out = tmp_path / "out"
    assert main(["predict", str(video), "--out", str(out), "--checkpoint", str(tiny_model), "--track",
                 "--smooth", "--no-flip", "--device", "cpu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 10 and summary["fps"] == pytest.approx(10.0)
    lines = [json.loads(line) for line in (out / "pan.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(10))
    assert lines[3]["time"] == pytest.approx(0.3)
    for line in lines:  # no detector: the whole frame is the one person's box, tracked as one id
        (p,) = line["persons"]
        assert len(p["keypoints"]) == 17 * 3 and p["bbox"] == [0, 0, 160, 96] and p["track_id"] == 0
    assert count_frames(out / "pan_pose.mp4") == 10


def test_predict_video_stops_at_max_frames_and_names_a_broken_video(tiny_model, shared_data, tmp_path, capsys):
    video = write_video(tmp_path / "pan.mp4", shared_data / "images" / "zidane.jpg", 6)
    assert main(["predict", str(video), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model),
                 "--max-frames", "2", "--no-draw", "--no-flip"]) == 0
    assert len((tmp_path / "o" / "pan.jsonl").read_text().splitlines()) == 2
    assert not (tmp_path / "o" / "pan_pose.mp4").exists()
    lines = [json.loads(line) for line in (tmp_path / "o" / "pan.jsonl").read_text().splitlines()]
    assert lines[0]["persons"][0]["track_id"] is None  # no --track: ids are null
    capsys.readouterr()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    assert main(["predict", str(broken), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_model)]) == 2
    err = capsys.readouterr().err.strip()
    assert "broken.mp4" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert main(["predict", str(tmp_path / "absent.mov"), "--out", str(tmp_path / "o")]) == 2
    assert "absent.mov: no such video file" in capsys.readouterr().err


def test_ctrl_c_keeps_the_frames_written_so_far_valid(tiny_model, shared_data, tmp_path, capsys, monkeypatch):
    from posekit.inference.api import PoseModel
    video = write_video(tmp_path / "pan.mp4", shared_data / "images" / "zidane.jpg", 8)
    call = PoseModel.__call__
    frames = iter(range(100))

    def interrupted_at_frame_3(self, *args, **kwargs):
        if next(frames) == 3:
            raise KeyboardInterrupt
        return call(self, *args, **kwargs)

    monkeypatch.setattr(PoseModel, "__call__", interrupted_at_frame_3)
    out = tmp_path / "o"
    assert main(["predict", str(video), "--out", str(out), "--checkpoint", str(tiny_model), "--no-flip"]) == 130
    assert "stopped by Ctrl+C" in capsys.readouterr().out
    assert len((out / "pan.jsonl").read_text().splitlines()) == 3
    assert count_frames(out / "pan_pose.mp4") == 3  # the writer was closed: the file plays
