"""Temporal smoothing of keypoints in video: the One-Euro filter (Casiez, Roussel and Vogel, CHI 2012).

A low-pass filter whose cutoff frequency rises with speed: a still keypoint is smoothed hard (its
jitter removed), a moving one lightly (so it does not lag). Per sample, with dt seconds since the last:

    alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))
    dx  = alpha(d_cutoff) * (x - x_prev) / dt + (1 - alpha(d_cutoff)) * dx_prev     (smoothed speed)
    fc  = min_cutoff + beta * |dx|
    x^  = alpha(fc) * x + (1 - alpha(fc)) * x^_prev

min_cutoff (Hz): the cutoff at rest; lower removes more jitter. beta: how fast the cutoff rises with
speed; higher follows fast motion with less lag. d_cutoff (Hz): the cutoff of the speed estimate.
Speed here is in person sizes per second (pixels per second over the person's box diagonal), so the
same parameters fit a person near the camera and one far away, at any video resolution.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


class OneEuroFilter:
    """One-Euro filter over an array of points (N, D), each point filtered on its own."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 5.0, d_cutoff: float = 1.0):
        for name, value in (("min_cutoff", min_cutoff), ("beta", beta), ("d_cutoff", d_cutoff)):
            if not (math.isfinite(value) and value >= 0) or (name != "beta" and value == 0):
                raise ValueError(f"One-Euro {name} must be a finite number {'>= 0' if name == 'beta' else '> 0'}, "
                                 f"got {value}")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.time = 0.0

    def __call__(self, points: np.ndarray, time: float, scale: float = 1.0) -> np.ndarray:
        """The filtered points at `time` seconds; `scale` divides the speed (a person's size in pixels)."""
        points = np.asarray(points, dtype=np.float64)
        if self.value is None or time <= self.time:
            self.value, self.speed, self.time = points.copy(), np.zeros(len(points)), time
            return self.value.copy()
        dt = time - self.time
        raw_speed = np.linalg.norm(points - self.value, axis=-1) / dt / max(scale, 1e-6)
        self.speed = _mix(raw_speed, self.speed, _alpha(self.d_cutoff, dt))
        cutoff = self.min_cutoff + self.beta * self.speed
        self.value = _mix(points, self.value, _alpha(cutoff, dt)[:, None])
        self.time = time
        return self.value.copy()


def _alpha(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))


def _mix(new: np.ndarray, old: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    return alpha * new + (1.0 - alpha) * old


class PoseSmoother:
    """One One-Euro filter per track, over its keypoints' x and y (scores pass through unchanged).

    Call once per frame with the frame's persons (carrying "track_id") and the frame time in seconds;
    returns the persons with smoothed keypoints. A track unseen for `max_gap` seconds starts afresh.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 5.0, d_cutoff: float = 1.0, max_gap: float = 1.0):
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # validate the parameters before any frame
        self.params = (min_cutoff, beta, d_cutoff)
        self.max_gap = max_gap
        self.filters: dict[int, OneEuroFilter] = {}

    def __call__(self, persons: Sequence[dict[str, Any]], time: float) -> list[dict[str, Any]]:
        """Copies of `persons` with keypoints (K, 3) float32, x and y filtered; the filter's speed is
        measured in box diagonals per second, so its response does not depend on the person's size."""
        self.filters = {k: f for k, f in self.filters.items() if time - f.time <= self.max_gap}
        smoothed = []
        for person in persons:
            keypoints = np.array(person["keypoints"], dtype=np.float32).reshape(-1, 3)
            one_euro = self.filters.setdefault(int(person["track_id"]), OneEuroFilter(*self.params))
            w, h = person["bbox"][2], person["bbox"][3]
            keypoints[:, :2] = one_euro(keypoints[:, :2], time, scale=math.hypot(w, h))
            smoothed.append({**person, "keypoints": keypoints})
        return smoothed
