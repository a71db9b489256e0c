"""Geometric transforms on numpy arrays: box -> centre/scale, affine warps, flips, half-body and
cut-across-the-body crops, and the random scale/rotation/shift of a crop.

Coordinates follow docs/developer.md: keypoint (x, y) at pixel centres, and cv2's convention for
affine matrices (2x3, original (x, y) -> output (x, y)); cv2.warpAffine samples pixel centres the same
way, so a keypoint mapped by a matrix lands on the image content that cv2.warpAffine moved there.
Rotation follows cv2.getRotationMatrix2D (and mmpose): positive degrees turn the content
counter-clockwise on screen.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from posekit.keypoints import KeypointSet

# Substrings of keypoint names that put a joint in the upper or the lower half of the body; these
# cover COCO, LSP, MPII, CrowdPose and the whole-body sets (face/hand/foot points).
_UPPER_WORDS = ("shoulder", "elbow", "wrist", "eye", "ear", "nose", "head", "neck", "thorax",
                "face", "hand", "finger", "thumb", "mouth", "lip", "chin", "brow")
_LOWER_WORDS = ("hip", "knee", "ankle", "pelvis", "foot", "toe", "heel")


def bbox_xywh_to_center_scale(bbox: Sequence[float], aspect_ratio: float,
                              padding: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre (2,) and scale (w, h) (2,) of a box, padded, with the shorter side grown so that
    w / h == aspect_ratio (the network input's width / height), as mmpose's GetBBoxCenterScale +
    TopdownAffine do."""
    x, y, w, h = (float(v) for v in bbox[:4])
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float64)
    return center, fix_aspect_ratio(np.array([w, h], dtype=np.float64) * padding, aspect_ratio)


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow the shorter side of a (w, h) scale so that w / h == aspect_ratio (never shrink)."""
    w, h = float(scale[0]), float(scale[1])
    if w > h * aspect_ratio:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return np.array([w, h], dtype=np.float64)


def get_warp_matrix(center: Sequence[float], scale: Sequence[float], rot_deg: float,
                    output_size: Sequence[int], shift: Sequence[float] = (0.0, 0.0),
                    inv: bool = False, udp: bool = False) -> np.ndarray:
    """2x3 float64 affine taking the region `scale` (w, h) around `center` (plus shift * scale) to an
    output of `output_size` (w, h), rotated by rot_deg.

    Standard (udp=False, what posekit's datasets use, as mmpose's get_warp_matrix): the centre maps to
    (out_w / 2, out_h / 2) and lengths scale by out_w / scale_w. UDP (Huang et al., unbiased data
    processing): the centre maps to ((out_w - 1) / 2, (out_h - 1) / 2) and lengths scale by
    (out_w - 1) / scale_w, so that the first and last pixel centres of the region map exactly onto
    the first and last output pixels. Scale (w, h) is assumed to have the output's aspect ratio; the
    x factor is used for both axes.
    """
    out_w, out_h = float(output_size[0]), float(output_size[1])
    src_w = float(scale[0])
    if src_w <= 0:
        raise ValueError(f"get_warp_matrix: scale width must be positive, got {scale}")
    cx = float(center[0]) + float(shift[0]) * float(scale[0])
    cy = float(center[1]) + float(shift[1]) * float(scale[1])
    if udp:
        factor, dst = (out_w - 1.0) / src_w, ((out_w - 1.0) * 0.5, (out_h - 1.0) * 0.5)
    else:
        factor, dst = out_w / src_w, (out_w * 0.5, out_h * 0.5)
    rad = np.deg2rad(rot_deg)
    a, b = factor * np.cos(rad), factor * np.sin(rad)
    warp = np.array([[a, b, dst[0] - a * cx - b * cy],
                     [-b, a, dst[1] + b * cx - a * cy]], dtype=np.float64)
    return invert_affine(warp) if inv else warp


def invert_affine(warp: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine, as a 2x3 float64 array."""
    full = np.vstack([np.asarray(warp, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine that applies `inner` first, then `outer`."""
    return (np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]]))[:2]


def hflip_matrix(width: int) -> np.ndarray:
    """Horizontal mirror of an image `width` pixels wide: x' = width - 1 - x (pixel centres)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def apply_affine(points: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Map (..., 2) points through a 2x3 affine."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ warp[:, :2].T + warp[:, 2]


def flip_keypoints(keypoints: np.ndarray, visible: np.ndarray, width: int,
                   flip_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror (..., K, 2) keypoints in an image `width` wide (x' = width - 1 - x) and swap left/right
    joints with the set's flip_index (flipped[k] = original[flip_index[k]]); visible (..., K) follows."""
    flipped = np.array(keypoints, dtype=np.float64, copy=True)
    flipped[..., 0] = width - 1 - flipped[..., 0]
    return flipped[..., flip_index, :], np.asarray(visible)[..., flip_index]


def flip_image(image: np.ndarray) -> np.ndarray:
    """Mirror an (H, W, ...) image left-right, as a contiguous copy."""
    return np.ascontiguousarray(image[:, ::-1])


def body_halves(keypoint_set: KeypointSet) -> tuple[np.ndarray, np.ndarray]:
    """Indices of upper- and lower-body joints, derived from the keypoint names, so half-body works for
    any set (names matching neither list, e.g. 'pelvis'-less custom points, join no half)."""
    upper, lower = [], []
    for i, name in enumerate(keypoint_set.names):
        lowered = name.lower()
        if any(word in lowered for word in _LOWER_WORDS):
            lower.append(i)
        elif any(word in lowered for word in _UPPER_WORDS):
            upper.append(i)
    return np.array(upper, dtype=np.int64), np.array(lower, dtype=np.int64)


def half_body_ids(visible: np.ndarray, upper_ids: np.ndarray, lower_ids: np.ndarray,
                  rng: np.random.Generator, min_total: int = 9, min_upper: int = 2,
                  min_lower: int = 3) -> np.ndarray | None:
    """The labelled joints of one body half (upper or lower, chosen at random when both qualify), as
    mmpose's RandomHalfBody picks them; None when the person has too few labelled joints."""
    labelled = np.asarray(visible) > 0
    if labelled.sum() < min(min_total, len(labelled)):
        return None
    upper = upper_ids[labelled[upper_ids]]
    lower = lower_ids[labelled[lower_ids]]
    prefer_upper = rng.random() < 0.5
    if len(upper) < min_upper and len(lower) < min_lower:
        return None
    if len(lower) < min_lower:
        return upper
    if len(upper) < min_upper:
        return lower
    return upper if prefer_upper else lower


def half_body_center_scale(keypoints: np.ndarray, ids: np.ndarray, aspect_ratio: float,
                           padding: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Centre (mean of the chosen joints) and padded, aspect-fixed extent of the chosen joints."""
    chosen = np.asarray(keypoints, dtype=np.float64)[ids, :2]
    center = chosen.mean(axis=0)
    extent = chosen.max(axis=0) - chosen.min(axis=0)
    return center, fix_aspect_ratio(extent * padding, aspect_ratio)


def shoulders_and_hips(keypoint_set: KeypointSet) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices of the two shoulders and the two hips (names ending in 'shoulder' / 'hip'), the body
    axis the cut-across crop measures along; None when the set lacks them."""
    names = [name.lower() for name in keypoint_set.names]
    shoulders = [i for i, name in enumerate(names) if name.endswith("shoulder")]
    hips = [i for i, name in enumerate(names) if name.endswith("hip")]
    if len(shoulders) != 2 or len(hips) != 2:
        return None
    return np.array(shoulders, dtype=np.int64), np.array(hips, dtype=np.int64)


def cut_body_center_scale(keypoints: np.ndarray, visible: np.ndarray, shoulder_ids: np.ndarray,
                          hip_ids: np.ndarray, rng: np.random.Generator, aspect_ratio: float,
                          cut_range: Sequence[float] = (0.2, 1.2),
                          padding: float = 1.25) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre and aspect-fixed extent of the person cut across the body at a random level: the framing
    of a portrait (cut near the shoulders) or a waist-up photo (cut near the hips), which whole-body
    training crops never show.

    The cut lies `cut` torso lengths below the shoulders' midpoint along the shoulder -> hip axis, `cut`
    drawn uniformly from cut_range (0: at the shoulders, 1: at the hips). The crop holds the labelled
    joints on the head's side of the cut and the cut line itself (the shoulders' width, across the
    axis), padded. None when a shoulder or a hip is unlabelled (no axis), or fewer than three joints
    stay above the cut."""
    labelled = np.asarray(visible) > 0
    if not (labelled[shoulder_ids].all() and labelled[hip_ids].all()):
        return None
    points = np.asarray(keypoints, dtype=np.float64)[:, :2]
    top, bottom = points[shoulder_ids].mean(axis=0), points[hip_ids].mean(axis=0)
    length = float(np.linalg.norm(bottom - top))
    if length < 1.0:
        return None
    axis = (bottom - top) / length
    cut = rng.uniform(float(cut_range[0]), float(cut_range[1])) * length
    kept = labelled & ((points - top) @ axis <= cut)
    if kept.sum() < 3:
        return None
    half_width = 0.5 * float(np.linalg.norm(points[shoulder_ids[0]] - points[shoulder_ids[1]]))
    across = np.array([-axis[1], axis[0]])
    cut_point = top + cut * axis
    region = np.vstack([points[kept], cut_point + half_width * across, cut_point - half_width * across])
    low, high = region.min(axis=0), region.max(axis=0)
    return (low + high) * 0.5, fix_aspect_ratio((high - low) * padding, aspect_ratio)


def truncated_normal(rng: np.random.Generator, size: int | tuple[int, ...] = ()) -> np.ndarray:
    """Standard normal samples truncated to [-1, 1] (redrawn, not clipped), as mmpose's box jitter."""
    values = rng.standard_normal(size)
    bad = np.abs(values) > 1
    while np.any(bad):
        values = np.where(bad, rng.standard_normal(np.shape(values)), values)
        bad = np.abs(values) > 1
    return values


def random_scale_rotation(rng: np.random.Generator, scale_range: Sequence[float], rotation: float,
                          rotation_prob: float, jitter: str = "truncated") -> tuple[float, float]:
    """Box scale factor (always applied) and rotation in degrees (applied with rotation_prob).

    jitter "truncated" (mmpose's RandomBBoxTransform): normals redrawn until within one standard
    deviation, scale over scale_range, rotation within +-rotation. "clipped" (SimpleBaseline's
    JointsDataset, which PoseDual and SSPCM train with): scale clip(N(mid, half-width), range), rotation
    clip(N(0, rotation), +-2 rotation), so a third of the draws sit on the bounds."""
    low, high = float(scale_range[0]), float(scale_range[1])
    if jitter == "clipped":
        factor = float(np.clip(rng.normal((high + low) * 0.5, (high - low) * 0.5), low, high))
        angle = float(np.clip(rng.normal(0.0, rotation), -2 * rotation, 2 * rotation))
        if rng.random() >= rotation_prob:
            angle = 0.0
        return factor, angle
    factor = float(truncated_normal(rng)) * (high - low) * 0.5 + (high + low) * 0.5
    angle = float(truncated_normal(rng)) * rotation
    if rng.random() >= rotation_prob:
        angle = 0.0
    return factor, angle


def refine_box(keypoints: np.ndarray, width: int, height: int, padding: float = 1.25,
               min_score: float = 0.25) -> np.ndarray | None:
    """A person box (x, y, w, h) around a first pass's keypoints (K, 3: x, y, score) for a second, closer
    look: the box of the keypoints scoring at least `min_score` times the best score, padded `padding`x
    and clipped to the image; None when fewer than 4 keypoints qualify or the box is degenerate.

    A quarter, not half, of the best score: with half, the box held only the surest joints (the torso)
    and cut off the limbs: on LSPET 7,001-8,000 the stage-7 model's second look (box enlarged 1.0x)
    scored 0.240 with half and 0.287 with a quarter (benchmarks/refine_lsp.py, docs/default_model.md)."""
    scores = keypoints[:, 2]
    if not np.isfinite(keypoints).all() or scores.max() <= 0:
        return None
    points = keypoints[scores >= min_score * scores.max(), :2]
    if len(points) < 4:
        return None
    (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * padding, (y2 - y1) * padding
    x1, y1 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    x2, y2 = min(float(width), cx + w / 2), min(float(height), cy + h / 2)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


def keep_second(second: float) -> bool:
    """Refine keeps its second look unless it found nothing (score 0). Not "when it scores at least as
    well": the whole image's look is often surest of a wrong answer, and keeping the better-scoring
    look lost 0.04 PCK on LSPET 7,001-8,000 against always taking the closer one (0.248 against 0.290
    for the shipped model; benchmarks/refine_lsp.py)."""
    return second > 0
