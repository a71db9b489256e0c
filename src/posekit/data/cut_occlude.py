"""Occlusion augmentations on batches of image tensors, placed at (pseudo) keypoints.

- Joint Cutout (PoseDual, Xie et al. 2021): zero boxes around jittered keypoints.
- Cut-Occlude (SSPCM, Huang et al. 2023): paste a box around a keypoint of another image of the
  batch onto a keypoint of this one, so the network must see through a plausible body-part occluder.

Images are (B, C, H, W) tensors (normalised: zero is the mean colour); keypoints are (B, K, 2)
(x, y) in input pixels, usually a partner network's heatmap peaks times the stride. Randomness
comes from the global torch RNG (or `generator`), which the training engine saves and restores.
"""
from __future__ import annotations

from typing import Sequence

import torch


def _span(center: int, half: int, limit: int) -> tuple[int, int]:
    return max(center - half, 0), min(center + half, limit)


def paste_patch(dst: torch.Tensor, src: torch.Tensor, dst_center: Sequence[int], src_center: Sequence[int],
                half: int) -> bool:
    """In place: dst[:, box of half-size `half` at dst_center] = src[:, same box at src_center].

    Boxes are [c - half, c + half) on each axis, clipped to the image. When clipping leaves the
    two boxes different sizes (one lies across a border the other does not), the destination box
    is zeroed instead, as SSPCM does. Returns True when a patch was pasted, False when zeroed."""
    height, width = dst.shape[-2:]
    dx0, dx1 = _span(int(dst_center[0]), half, width)
    dy0, dy1 = _span(int(dst_center[1]), half, height)
    sx0, sx1 = _span(int(src_center[0]), half, width)
    sy0, sy1 = _span(int(src_center[1]), half, height)
    if dx1 <= dx0 or dy1 <= dy0:
        return False  # the destination lies outside the image: nothing to occlude
    if (dx1 - dx0, dy1 - dy0) != (sx1 - sx0, sy1 - sy0):
        dst[:, dy0:dy1, dx0:dx1] = 0
        return False
    dst[:, dy0:dy1, dx0:dx1] = src[:, sy0:sy1, sx0:sx1]
    return True


def _half_size(half_size: Sequence[int], generator: torch.Generator | None) -> int:
    low, high = int(half_size[0]), int(half_size[1])
    return int(torch.randint(low, max(high, low + 1), (1,), generator=generator))


def _jitter(point: torch.Tensor, sd: float, generator: torch.Generator | None) -> list[int]:
    offset = torch.randn(2, generator=generator, dtype=torch.float64) * sd
    return [int(round(float(point[0]) + float(offset[0]))), int(round(float(point[1]) + float(offset[1])))]


def joint_cutout(images: torch.Tensor, keypoints: torch.Tensor, num_joints: int = 5,
                 half_size: Sequence[int] = (10, 20), jitter_sd: float = 10.0,
                 generator: torch.Generator | None = None, released: bool = False) -> torch.Tensor:
    """Joint Cutout: for each image, `num_joints` keypoints drawn with replacement, each jittered by
    N(0, jitter_sd) px, get a zero box of half-size U[half_size) px. Returns a new tensor.

    released=True reproduces the released code's height/width swap (`_, _, width, height = image.shape`
    on an (N, C, H, W) batch): x is clipped to the height and y to the width, so rows below the width
    (the bottom quarter of a 256x192 crop) are never masked. The paper describes no such limit."""
    _check(images, keypoints)
    out = images.clone()
    points = keypoints.detach().cpu()
    height, width = images.shape[-2:]
    x_limit, y_limit = (height, width) if released else (width, height)
    for i in range(images.shape[0]):
        picks = torch.randint(0, points.shape[1], (num_joints,), generator=generator)
        for k in picks.tolist():
            cx, cy = _jitter(points[i, k], jitter_sd, generator)
            half = _half_size(half_size, generator)
            x0, x1 = _span(cx, half, x_limit)
            y0, y1 = _span(cy, half, y_limit)
            if x1 > x0 and y1 > y0:
                out[i, :, y0:y1, x0:x1] = 0
    return out


def cut_occlude(images: torch.Tensor, keypoints: torch.Tensor, num_joints: int = 2,
                half_size: Sequence[int] = (10, 20), jitter_sd: float = 10.0,
                generator: torch.Generator | None = None, released: bool = False) -> torch.Tensor:
    """Cut-Occlude: for each image i, a random other image j of the batch; `num_joints` keypoints
    of i and `num_joints` of j (each without replacement); the box of half-size U[half_size) px
    around j's keypoint, jittered by N(0, jitter_sd) px, is pasted centred on i's keypoint
    (zeroed when the boxes clip differently at a border). Patches come from the unmodified batch.
    Returns a new tensor.

    released=True reproduces the released SSPCM code's x/y transposition (`center_x = joints[..., 1]`):
    each keypoint (x, y) is used as (y, x), so boxes land at the mirror of the joints across the
    diagonal. The paper places them at the joints."""
    _check(images, keypoints)
    batch, num_kpts = keypoints.shape[:2]
    out = images.clone()
    points = keypoints.detach().cpu()
    if released:
        points = points.flip(-1)
    count = min(num_joints, num_kpts)
    for i in range(batch):
        j = i
        if batch > 1:  # another image of the batch: shift a random draw past i
            j = int(torch.randint(0, batch - 1, (1,), generator=generator))
            j += int(j >= i)
        dst_joints = torch.randperm(num_kpts, generator=generator)[:count].tolist()
        src_joints = torch.randperm(num_kpts, generator=generator)[:count].tolist()
        for a, b in zip(dst_joints, src_joints):
            src_center = _jitter(points[j, b], jitter_sd, generator)
            dst_center = [int(round(float(v))) for v in points[i, a]]
            paste_patch(out[i], images[j], dst_center, src_center, _half_size(half_size, generator))
    return out


# The occlusions placed at keypoints, by the name configs give them (strategy_params.occlusion); each is
# fn(images, keypoints, num_joints, half_size, jitter_sd, released=...).
OCCLUDERS = {"joint_cutout": joint_cutout, "cut_occlude": cut_occlude}


def _check(images: torch.Tensor, keypoints: torch.Tensor) -> None:
    if images.ndim != 4 or keypoints.ndim != 3 or keypoints.shape[-1] != 2 or keypoints.shape[0] != images.shape[0]:
        raise ValueError(f"occlusion: images {tuple(images.shape)} and keypoints {tuple(keypoints.shape)} "
                         "must be (B, C, H, W) and (B, K, 2)")
