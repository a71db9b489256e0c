"""Drawing poses on images, image grids, and PCK bar charts (PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from posekit.keypoints import KeypointSet


# Far beyond any image, yet inside OpenCV's int32 point range (a wild finite value would overflow it).
MAX_COORD = 1e6


def draw_poses(image_rgb: np.ndarray, poses: Sequence[np.ndarray], keypoint_set: KeypointSet,
               threshold: float = 0.3, boxes: Sequence[Sequence[float]] | None = None) -> np.ndarray:
    """Skeleton links and keypoints of each pose whose score exceeds `threshold`; a pose is (K, 3) or
    the flat K*3 list results.json and the video JSONL store. Non-finite points and boxes (keypoints
    or persons not found) are skipped."""
    canvas = np.ascontiguousarray(image_rgb.copy())
    scale = max(1, round(max(canvas.shape[:2]) / 400))
    for box in boxes or []:
        corners = _box_corners(box)
        if corners is not None:
            cv2.rectangle(canvas, *corners, (255, 255, 0), scale)
    for pose in poses:
        pose = _as_pose(pose, keypoint_set)
        ok = (pose[:, 2] > threshold) & np.isfinite(pose[:, :2]).all(axis=1)
        points = np.round(np.clip(np.where(ok[:, None], pose[:, :2], 0), -MAX_COORD, MAX_COORD)).astype(int)
        for a, b in keypoint_set.skeleton:
            if ok[a] and ok[b]:
                colour = tuple(int(c) for c in keypoint_set.colours[b])
                cv2.line(canvas, tuple(points[a]), tuple(points[b]), colour, 2 * scale, cv2.LINE_AA)
        for k in np.flatnonzero(ok):
            cv2.circle(canvas, tuple(points[k]), 2 * scale + 1, tuple(int(c) for c in keypoint_set.colours[k]), -1,
                       cv2.LINE_AA)
    return canvas


def _as_pose(pose: Sequence[float] | np.ndarray, keypoint_set: KeypointSet) -> np.ndarray:
    """(K, 3) float64 from a (K, 3) array or a flat K*3 list; ValueError when K is not the set's."""
    pose = np.asarray(pose, dtype=np.float64)
    if pose.size != 3 * keypoint_set.num_keypoints:
        raise ValueError(f"draw_poses: a pose of {pose.size} numbers is not {keypoint_set.num_keypoints} x 3 "
                         f"(x, y, score) for keypoint set {keypoint_set.name}")
    return pose.reshape(-1, 3)


def _box_corners(box: Sequence[float] | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Top-left and bottom-right of an x, y, w, h box; None for a missing or non-finite one."""
    if box is None:
        return None
    xywh = np.asarray(box, dtype=np.float64).reshape(-1)[:4]
    if xywh.size < 4 or not np.isfinite(xywh).all():
        return None
    x, y, w, h = (int(round(v)) for v in np.clip(xywh, -MAX_COORD, MAX_COORD))
    return (x, y), (x + w, y + h)


def image_grid(images: Sequence[np.ndarray], columns: int = 4, cell: int = 256,
               captions: Sequence[str] | None = None) -> np.ndarray:
    """Letterbox each RGB image into a cell x cell tile and tile them in rows."""
    rows = max(1, -(-len(images) // columns))
    grid = np.full((rows * cell, columns * cell, 3), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        r = cell / max(h, w)
        tile = cv2.resize(img, (max(1, int(w * r)), max(1, int(h * r))), interpolation=cv2.INTER_AREA)
        y0, x0 = (i // columns) * cell, (i % columns) * cell
        oy, ox = (cell - tile.shape[0]) // 2, (cell - tile.shape[1]) // 2
        grid[y0 + oy:y0 + oy + tile.shape[0], x0 + ox:x0 + ox + tile.shape[1]] = tile
        if captions:  # dark text on a white strip, readable over any photo
            (tw, th), _ = cv2.getTextSize(captions[i], cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
            cv2.rectangle(grid, (x0, y0), (x0 + tw + 8, y0 + th + 10), (255, 255, 255), -1)
            cv2.putText(grid, captions[i], (x0 + 4, y0 + th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                        cv2.LINE_AA)
    return grid


def save_rgb(path: str | Path, image_rgb: np.ndarray) -> None:
    """Write an RGB array (converted to OpenCV's BGR) in the format the suffix names, creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image_rgb[..., ::-1])):
        raise OSError(f"{path}: could not write image")
