"""Sub-pixel refinement of heatmap maxima, vectorised over all maps of a batch.

Shared by heatmap-based codecs (top-down and bottom-up). All functions take heatmaps of shape
(N, h, w) (any leading batch dims flattened to N) and locations in heatmap pixels, x then y.
"""
from __future__ import annotations

import cv2
import numpy as np


def heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax of each (h, w) map: locations (N, 2) float32 (x, y) and peak values (N,)."""
    n, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, h * w)
    index = flat.argmax(axis=1)
    scores = flat[np.arange(n), index]
    locations = np.stack([index % w, index // w], axis=1).astype(np.float32)
    return locations, scores.astype(np.float32)


def refine_shift(locations: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """SimpleBaseline refinement: move a quarter pixel toward the higher neighbour on each axis.

    An axis is left alone where the argmax has no neighbour on both sides (map border).
    """
    n, h, w = heatmaps.shape
    x = locations[:, 0].astype(np.int64)
    y = locations[:, 1].astype(np.int64)
    rows = np.arange(n)
    inside_x = (x > 0) & (x < w - 1)
    inside_y = (y > 0) & (y < h - 1)
    xc, yc = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)
    dx = heatmaps[rows, y, xc + 1] - heatmaps[rows, y, xc - 1]
    dy = heatmaps[rows, yc + 1, x] - heatmaps[rows, yc - 1, x]
    offset = 0.25 * np.stack([np.sign(dx) * inside_x, np.sign(dy) * inside_y], axis=1)
    return (locations + offset).astype(np.float32)


def blurred_neighbourhood(heatmaps: np.ndarray, x: np.ndarray, y: np.ndarray,
                          kernel: int) -> np.ndarray:
    """Gaussian-blurred values of each map on the 3x3 pixels around (x[i], y[i]): (N, 3, 3).

    The blur is cv2's default Gaussian for this kernel size, zero outside the map: what mmpose's
    `gaussian_blur` computes (pad by the kernel radius, cv2.GaussianBlur, crop). DARK needs only
    these nine values, so only they are computed. mmpose's final rescale to the original maximum
    is left out: DARK works on the log, where a scale is an additive constant.
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"blur kernel must be a positive odd integer, got {kernel}")
    n, h, w = heatmaps.shape
    reach = kernel // 2 + 1  # kernel radius plus the one-pixel neighbourhood
    offsets = np.arange(-reach, reach + 1)
    ys, xs = y[:, None] + offsets, x[:, None] + offsets
    patches = heatmaps[np.arange(n)[:, None, None], np.clip(ys, 0, h - 1)[:, :, None],
                       np.clip(xs, 0, w - 1)[:, None, :]].astype(np.float64)
    patches *= ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
    # Row a of `taps` holds the 1-D kernel centred on neighbourhood offset a - 1 of the patch.
    weights = cv2.getGaussianKernel(kernel, 0).ravel()
    taps = np.zeros((3, offsets.size))
    for a in range(3):
        taps[a, a:a + kernel] = weights
    return taps @ patches @ taps.T


def refine_dark(locations: np.ndarray, heatmaps: np.ndarray, blur_kernel: int) -> np.ndarray:
    """DARK (Zhang et al. 2020): one Newton step on the log of the blurred map at the argmax.

    Derivatives are central differences over the 3x3 neighbourhood, and the step is taken only
    where the Hessian is negative definite (a true maximum of the log-map). Near the map border
    the zero-padded blur pulls a cut-off peak inward (up to 3 input px at 256x192), so where the
    blur window crosses the border the step uses the log of the unblurred map instead, per axis,
    with one-sided differences on the border row/column itself: the log of a Gaussian peak is
    exactly quadratic, so that step is exact for the encoded targets.
    """
    n, h, w = heatmaps.shape
    x = locations[:, 0].astype(np.int64)
    y = locations[:, 1].astype(np.int64)
    reach = blur_kernel // 2 + 1
    interior = (x >= reach) & (x < w - reach) & (y >= reach) & (y < h - reach)
    refined = locations.astype(np.float64)
    if interior.any():
        refined[interior] += _blurred_newton_step(heatmaps[interior], x[interior], y[interior], blur_kernel)
    border = ~interior
    if border.any():
        refined[border] += _raw_axis_steps(heatmaps[border], x[border], y[border])
    return refined.astype(np.float32)


def _blurred_newton_step(heatmaps: np.ndarray, x: np.ndarray, y: np.ndarray, blur_kernel: int) -> np.ndarray:
    log_map = np.log(np.maximum(blurred_neighbourhood(heatmaps, x, y, blur_kernel), 1e-10))

    def at(dx: int, dy: int) -> np.ndarray:
        return log_map[:, 1 + dy, 1 + dx]

    centre = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = at(1, 0) - 2 * centre + at(-1, 0)
    hyy = at(0, 1) - 2 * centre + at(0, -1)
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    maximum = (hxx < 0) & (det > 0)
    safe_det = np.where(maximum, det, 1.0)
    # offset = -H^-1 g, with the 2x2 inverse written out.
    ox = -(hyy * gx - hxy * gy) / safe_det
    oy = -(hxx * gy - hxy * gx) / safe_det
    return np.stack([ox, oy], axis=1) * maximum[:, None]


def _raw_axis_steps(heatmaps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-axis Newton steps on the log of the raw map, from three samples along each axis: centred
    where both neighbours exist, else the three nearest inside the map (one-sided)."""
    n, h, w = heatmaps.shape
    rows = np.arange(n)
    steps = np.zeros((n, 2))
    for axis, (pos, size) in enumerate(((x, w), (y, h))):
        if size < 3:
            continue
        first = np.clip(pos - 1, 0, size - 3)  # the three samples first, first+1, first+2
        samples = []
        for j in range(3):
            idx = first + j
            samples.append(heatmaps[rows, y, idx] if axis == 0 else heatmaps[rows, idx, x])
        values = np.stack(samples, axis=1).astype(np.float64)
        valid = (values > 0).all(axis=1)
        logs = np.log(np.where(valid[:, None], values, 1.0))
        t = (pos - first).astype(np.float64)  # where the argmax sits among the samples: 0, 1 or 2
        curvature = logs[:, 0] - 2 * logs[:, 1] + logs[:, 2]
        slope_mid = 0.5 * (logs[:, 2] - logs[:, 0])
        gradient = slope_mid + (t - 1) * curvature  # derivative of the parabola at the argmax
        ok = valid & (curvature < 0)
        step = -gradient / np.where(ok, curvature, -1.0)
        steps[:, axis] = np.where(ok & (np.abs(step) <= 1.5), step, 0.0)
    return steps
