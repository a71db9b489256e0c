"""Poses in a video file or a camera stream, frame by frame: a drawn video and one JSON line per frame.

    DIR/<stem>_pose.mp4   the frames with skeletons (and track ids) drawn, at the source's frame rate
    DIR/<stem>.jsonl      {"frame": i, "time": seconds, "persons": [{"keypoints": [x, y, score, ...],
                           "bbox": [x, y, w, h], "score": s, "track_id": id or null}, ...]}

Each line is written as its frame is done, so a stream stopped with Ctrl+C leaves a valid file.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm"}
# A camera, or a container that does not say its rate: the rate written to the output video.
FALLBACK_FPS = 30.0


def is_video_source(source: str) -> bool:
    """A video file by its suffix, or a camera index such as "0" (unless a file or folder has that name)."""
    path = Path(source)
    return path.suffix.lower() in VIDEO_SUFFIXES or (source.isdigit() and not path.exists())


class VideoSource:
    """Frames (BGR, as OpenCV decodes them) of a video file or a camera, with its rate and length."""

    def __init__(self, source: str):
        self.camera = source.isdigit() and not Path(source).exists()
        self.source = source
        self.name = f"camera{source}" if self.camera else Path(source).stem
        if not self.camera and not Path(source).is_file():
            raise FileNotFoundError(f"{source}: no such video file")
        self.capture = cv2.VideoCapture(int(source) if self.camera else source)
        if not self.capture.isOpened():
            what = "camera (no such device, or it is in use)" if self.camera else \
                "video (corrupt, or a codec this OpenCV build cannot decode)"
            raise ValueError(f"{source}: cannot open this {what}")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else FALLBACK_FPS
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not self.camera else 0
        self.frame_count = count if count > 0 else None  # containers may not say; cameras never do

    def frames(self, max_frames: int | None = None) -> Iterator[np.ndarray]:
        """BGR (H, W, 3) uint8 frames in order until the source ends or `max_frames` are read."""
        read = 0
        while max_frames is None or read < max_frames:
            ok, frame = self.capture.read()
            if not ok:
                return
            read += 1
            yield frame

    def close(self) -> None:
        """Release the file or camera (a camera stays busy for other programs until then)."""
        self.capture.release()


def run_video(model: Any, source: str | VideoSource, out_dir: str | Path, *, tracker: Any = None,
              smoother: Any = None, max_frames: int | None = None, kpt_threshold: float = 0.3, draw: bool = True,
              progress: bool = True) -> dict[str, Any]:
    """Run a PoseModel on every frame of `source` (a path, a camera index, or an open VideoSource, which
    this closes); write the JSON lines (and the drawn video unless draw=False) into out_dir.
    tracker: a PoseTracker (ids); smoother: a PoseSmoother (needs ids).
    Returns a summary: frames, persons, tracks, files, and whether Ctrl+C stopped it."""
    from tqdm import tqdm

    video = source if isinstance(source, VideoSource) else VideoSource(source)
    if smoother is not None and tracker is None:
        video.close()
        raise ValueError("smoothing follows each person over time, so it needs tracking (a tracker)")
    if max_frames is not None and max_frames < 1:
        video.close()
        raise ValueError(f"--max-frames must be >= 1, got {max_frames}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines_path, video_path = out / f"{video.name}.jsonl", out / f"{video.name}_pose.mp4"
    total = video.frame_count if max_frames is None else min(video.frame_count or max_frames, max_frames)
    writer, frames, persons_seen, below_threshold, interrupted = None, 0, 0, 0, False
    try:
        with lines_path.open("w") as lines, tqdm(total=total, desc="predict", unit="frame", disable=not progress,
                                                  file=sys.stderr) as bar:
            try:
                for index, frame in enumerate(video.frames(max_frames)):
                    persons = [dict(p) for p in model(frame)]
                    ids = tracker.update(persons) if tracker is not None else [None] * len(persons)
                    for person, track_id in zip(persons, ids):
                        person["track_id"] = track_id
                    if smoother is not None:
                        persons = smoother(persons, index / video.fps)
                    lines.write(json.dumps(frame_record(index, index / video.fps, persons)) + "\n")
                    if persons and not any((p["keypoints"][:, 2] > kpt_threshold).any() for p in persons):
                        below_threshold += 1
                    if draw:
                        writer = writer or open_writer(video_path, video.fps, frame.shape[1], frame.shape[0])
                        writer.write(draw_frame(frame, persons, model.keypoint_set, kpt_threshold))
                    frames += 1
                    persons_seen += len(persons)
                    bar.update()
            except KeyboardInterrupt:  # the way to stop a camera: keep what was written, valid
                interrupted = True
    finally:
        video.close()
        if writer is not None:
            writer.release()
    if frames == 0:
        raise ValueError(f"{video.source}: no frame could be read (empty, corrupt, or a codec this OpenCV build lacks)")
    return {"frames": frames, "persons": persons_seen, "tracks": tracker.next_id if tracker is not None else None,
            "fps": round(video.fps, 3), "frames_below_kpt_threshold": below_threshold, "interrupted": interrupted,
            "jsonl": str(lines_path), "video": str(video_path) if draw else None}


def frame_record(index: int, time: float, persons: list[dict[str, Any]]) -> dict[str, Any]:
    """One JSON line of the .jsonl (layout in the module docstring); keypoints flattened, rounded."""
    return {"frame": index, "time": round(time, 4), "persons": [
        {"keypoints": np.asarray(p["keypoints"], dtype=float).reshape(-1).round(3).tolist(),
         "bbox": [round(float(v), 2) for v in p["bbox"][:4]], "score": round(float(p["score"]), 5),
         "track_id": p["track_id"]} for p in persons]}


def open_writer(path: Path, fps: float, width: int, height: int) -> cv2.VideoWriter:
    """An mp4v VideoWriter for BGR frames of this size; ValueError if OpenCV cannot open it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"{path}: cannot write this video (mp4v codec unavailable or folder not writable)")
    return writer


def draw_frame(frame_bgr: np.ndarray, persons: list[dict[str, Any]], keypoint_set: Any,
               threshold: float) -> np.ndarray:
    """The frame (BGR) with each person's skeleton and box, and the track id above the box."""
    from posekit.inference.api import draw
    canvas = draw(frame_bgr, persons, keypoint_set, threshold)
    scale = max(1, round(max(canvas.shape[:2]) / 400))
    for person in persons:
        if person["track_id"] is not None and np.isfinite(person["bbox"][:2]).all():
            x, y = int(person["bbox"][0]), max(int(person["bbox"][1]) - 4 * scale, 10 * scale)
            cv2.putText(canvas, f"id {person['track_id']}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale,
                        (0, 255, 255), scale, cv2.LINE_AA)
    return canvas
