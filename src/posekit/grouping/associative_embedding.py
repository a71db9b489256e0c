"""Associative-embedding grouping, exactly as the published HigherHRNet parse (`lib/core/group.py`):
max-pool NMS, top-k peaks per joint, joint-by-joint Hungarian matching on
round(tag distance)·100 − score, the ±0.25 px adjustment (+0.5), refinement of missing joints and
person score = mean joint score before refinement.

The hot paths are vectorised and pruned exactly with per-block bounds (`block_bounds.BlockBounds`,
blocks of 8×8 pixels): NMS/top-k read only blocks whose heatmap bound exceeds the detection
threshold, and refinement (`ae_refine`) only blocks whose bound on heat − round(tag distance) can
still win; before NMS, the candidate blocks' bounds are replaced by their exact maxima (a read of 64
pixels, no NMS window), which on noisy maps rules most of them out and leaves refinement its seeds.
When the maps are the test-time projection of the network's lower-resolution outputs, the bounds
are computed from those (a quarter of the pixels or fewer), so the full-size maps are read only
where a result can lie. One assignment per joint; adjustment over all persons at once. Ties in
top-k are ordered by flat index (torch.topk leaves their order unspecified). The matching semantics
(joint order, the first `max_people` groups as candidates, new groups keyed by their first tag
value) are the original's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from posekit.grouping.ae_refine import quarter_offsets, refine
from posekit.grouping.block_bounds import BlockBounds, nonzero

__all__ = ["COCO_JOINT_ORDER", "BlockBounds", "GroupingParams", "default_joint_order", "adjust", "match_by_tag", "parse", "refine", "top_k_peaks"]

# Published grouping order for COCO-17: head first, then shoulders, hips, elbows, wrists, knees, ankles.
COCO_JOINT_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)


def default_joint_order(num_keypoints: int) -> tuple[int, ...]:
    """The order joints are matched in: COCO_JOINT_ORDER for 17 keypoints, else index order."""
    return COCO_JOINT_ORDER if num_keypoints == 17 else tuple(range(num_keypoints))


@dataclass(frozen=True)
class GroupingParams:
    """Settings of the HigherHRNet parse, defaults as published (COCO); `joint_order` None takes
    `default_joint_order`."""

    num_keypoints: int = 17
    max_people: int = 30            # top-k peaks per joint, and candidate groups per matching step
    nms_kernel: int = 5
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    use_detection_value: bool = True
    ignore_too_much: bool = False
    adjust: bool = True
    refine: bool = True
    joint_order: tuple[int, ...] | None = None

    @property
    def order(self) -> tuple[int, ...]:
        """`joint_order` if set, else `default_joint_order(num_keypoints)`."""
        return self.joint_order or default_joint_order(self.num_keypoints)


def top_k_peaks(heatmaps: np.ndarray, tags: np.ndarray, k: int, nms_kernel: int, threshold: float,
                bounds: BlockBounds | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """heatmaps (K, H, W), tags (K, H, W, L) -> values (K, k), locations (K, k, 2) as x, y and
    tags (K, k, L) of the k highest max-pool-NMS survivors of each joint that exceed `threshold`,
    ordered by value, ties by flat index; unused rows are zero.

    The published parse takes the top k survivors and then drops those not above the detection
    threshold, so only pixels above it can matter: only blocks whose bound exceeds it are read."""
    if threshold < 0:
        raise ValueError(f"detection threshold must be >= 0, got {threshold}")
    num_k, h, w = heatmaps.shape
    bounds = bounds or BlockBounds.from_maps(heatmaps, tags)
    values = np.zeros((num_k, k), np.float32)
    locations = np.zeros((num_k, k, 2), np.int64)
    peak_tags = np.zeros((num_k, k, tags.shape[-1]), np.float32)
    # One patch per block whose bound exceeds the threshold, with a margin of half the NMS window;
    # indices are clipped at the map's edges, which repeats pixels that are inside the window (but
    # only real pixels of a block cut by the edge are candidates).
    joint_of, blocks_y, blocks_x = nonzero(bounds.heat_max > threshold)
    # Exact maxima first (64 reads per block, against 144 for its NMS patch): on noisy maps most
    # blocks pass the coarse bound only by the noise's amplitude. Refinement reuses them.
    bounds.make_exact(heatmaps, joint_of, blocks_y * bounds.blocks_x + blocks_x)
    above = bounds.heat_max[joint_of, blocks_y, blocks_x] > threshold
    joint_of, blocks_y, blocks_x = joint_of[above], blocks_y[above], blocks_x[above]
    if len(joint_of) == 0:
        return values, locations, peak_tags
    pad, block = nms_kernel // 2, bounds.block
    span = np.arange(-pad, block + pad)
    patch_y = np.minimum(np.maximum(blocks_y[:, None] * block + span, 0), h - 1)
    patch_x = np.minimum(np.maximum(blocks_x[:, None] * block + span, 0), w - 1)
    patches = _patches(heatmaps, joint_of, blocks_y, blocks_x, block, pad, patch_y, patch_x)
    window_max = patches[:, :block]                   # separable max over the NMS window
    for offset in range(1, nms_kernel):
        window_max = np.maximum(window_max, patches[:, offset:offset + block])
    rows = window_max
    window_max = rows[:, :, :block]
    for offset in range(1, nms_kernel):
        window_max = np.maximum(window_max, rows[:, :, offset:offset + block])
    centre = patches[:, pad:pad + block, pad:pad + block]
    inside = ((blocks_y[:, None, None] * block + span[pad:pad + block, None] < h)
              & (blocks_x[:, None, None] * block + span[None, pad:pad + block] < w))
    patch_index, iy, ix = nonzero((centre > threshold) & (centre == window_max) & inside)
    candidate_values = centre[patch_index, iy, ix]
    joint_of = joint_of[patch_index]
    pixels = patch_y[patch_index, pad + iy] * w + patch_x[patch_index, pad + ix]
    order = np.lexsort((pixels, -candidate_values, joint_of))
    joint_of, pixels, candidate_values = joint_of[order], pixels[order], candidate_values[order]
    starts = np.searchsorted(joint_of, np.arange(num_k))
    rank = np.arange(len(joint_of)) - starts[joint_of]
    keep = rank < k
    joint_of, pixels, rank = joint_of[keep], pixels[keep], rank[keep]
    values[joint_of, rank] = candidate_values[keep]
    locations[joint_of, rank, 0], locations[joint_of, rank, 1] = pixels % w, pixels // w
    peak_tags[joint_of, rank] = tags[joint_of, pixels // w, pixels % w]  # tags may be a strided view: no reshape copy
    return values, locations, peak_tags


def _patches(heatmaps: np.ndarray, joint_of: np.ndarray, blocks_y: np.ndarray, blocks_x: np.ndarray, block: int,
             pad: int, patch_y: np.ndarray, patch_x: np.ndarray) -> np.ndarray:
    """(n, block + 2·pad, same) windows of the given blocks widened by `pad`, rows patch_y and
    columns patch_x (clipped at the edges). Windows inside the map come from a strided view of
    overlapping windows (rows of contiguous pixels, ~8× faster than per-pixel indices); only those
    at the edge are gathered pixel by pixel."""
    num_k, h, w = heatmaps.shape
    size, offset = block + 2 * pad, block - pad          # window of block b starts at (b − 1)·block + offset
    count_y, count_x = (h - offset - size) // block + 1, (w - offset - size) // block + 1
    inside = (blocks_y >= 1) & (blocks_y <= count_y) & (blocks_x >= 1) & (blocks_x <= count_x)
    if pad > block or not inside.any():
        return heatmaps[joint_of[:, None, None], patch_y[:, :, None], patch_x[:, None, :]]
    s = heatmaps.strides
    windows = np.lib.stride_tricks.as_strided(heatmaps[:, offset:, offset:], (num_k, count_y, count_x, size, size),
                                              (s[0], block * s[1], block * s[2], s[1], s[2]), writeable=False)
    patches = np.empty((len(joint_of), size, size), heatmaps.dtype)
    patches[inside] = windows[joint_of[inside], blocks_y[inside] - 1, blocks_x[inside] - 1]
    edge = ~inside
    patches[edge] = heatmaps[joint_of[edge, None, None], patch_y[edge, :, None], patch_x[edge, None, :]]
    return patches


def match_by_tag(values: np.ndarray, locations: np.ndarray, peak_tags: np.ndarray, params: GroupingParams
                 ) -> np.ndarray:
    """Group peaks into persons. Returns (P, K, 3 + L): x, y, score, tag per joint (zeros where absent)."""
    num_k, num_tag = values.shape[0], peak_tags.shape[2]
    joints_all = np.concatenate((locations.astype(np.float64), values[..., None], peak_tags), axis=2)
    # Peaks above the threshold; top_k_peaks orders them first, so they are usually a prefix (a view).
    keep = values > params.detection_threshold
    counts = keep.sum(axis=1)
    prefix = bool((keep == (np.arange(values.shape[1]) < counts[:, None])).all())
    persons: list[np.ndarray] = []          # (K, 3+L) per group, in creation order
    key_index: dict[float, int] = {}        # groups are keyed by the first tag value of their first joint
    # Float32 tags of each group (at most one per joint) and how many, averaged as the original does
    # (np.mean of the same (n, L) float32 rows) into a row of `means`, recomputed only when stale.
    group_tags: list[np.ndarray] = []
    group_count: list[int] = []
    stale: list[bool] = []
    means = np.empty((keep.sum() + 1, num_tag), np.float32)   # at most one group per peak

    def start_or_overwrite(row: np.ndarray, tag: np.ndarray, joint: int) -> None:
        slot = key_index.setdefault(float(tag[0]), len(persons))
        if slot == len(persons):
            persons.append(np.zeros((num_k, 3 + num_tag)))
            group_tags.append(np.empty((num_k, num_tag), np.float32))
            group_count.append(0)
            stale.append(True)
        persons[slot][joint] = row
        group_tags[slot][0] = tag  # the original resets the group's tag list on a key collision too
        group_count[slot] = 1
        stale[slot] = True

    for step, joint in enumerate(params.order):
        if prefix:
            joints, tags = joints_all[joint, :counts[joint]], peak_tags[joint, :counts[joint]]
        else:
            joints, tags = joints_all[joint][keep[joint]], peak_tags[joint][keep[joint]]
        if len(joints) == 0:
            continue
        if step == 0 or not persons:
            for row, tag in zip(joints, tags):
                start_or_overwrite(row, tag, joint)
            continue
        candidates = min(len(persons), params.max_people)
        if params.ignore_too_much and candidates == params.max_people:
            continue
        for s in range(candidates):  # only groups whose tags changed since the last joint
            if stale[s]:
                # np.mean's own float32 sum and division, without its per-call overhead
                means[s] = np.add.reduce(group_tags[s][:group_count[s]], axis=0) / group_count[s]
                stale[s] = False
        difference = joints[:, None, 3:] - means[None, :candidates]
        distance = np.sqrt(np.add.reduce(difference * difference, axis=2))  # np.linalg.norm(ord=2)'s own steps
        cost = np.round(distance) * 100 - joints[:, 2:3] if params.use_detection_value else distance
        # The original solves Munkres on the matrix padded to square (extra rows cost 0, extra
        # columns 1e10, i.e. new persons). Rounded distances make equal-cost optima common, so the
        # same padded matrix is solved here: ties then resolve the same way in every caller.
        num_rows, num_cols = cost.shape
        size = max(num_rows, num_cols)
        square = np.zeros((size, size))
        square[:, num_cols:] = 1e10
        square[:num_rows, :num_cols] = cost
        rows, cols = linear_sum_assignment(square)
        assigned = [-1] * num_rows
        for r, c in zip(rows.tolist(), cols.tolist()):
            if r < num_rows and c < num_cols:
                assigned[r] = c
        for r, (row, tag) in enumerate(zip(joints, tags)):
            c = assigned[r]
            if c >= 0 and distance[r, c] < params.tag_threshold:
                persons[c][joint] = row
                group_tags[c][group_count[c]] = tag
                group_count[c] += 1
                stale[c] = True
            else:
                start_or_overwrite(row, tag, joint)
    if not persons:
        return np.zeros((0, num_k, 3 + num_tag), np.float32)
    return np.stack(persons).astype(np.float32)


def adjust(persons: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """A copy of persons (P, K, 3 + L) with each found joint moved ±0.25 px toward its higher
    heatmap neighbour, plus 0.5 (pixel centre), in x and y, as the published parse adjusts."""
    persons = persons.copy()
    p, j = nonzero(persons[:, :, 2] > 0)
    x, y = persons[p, j, 0], persons[p, j, 1]
    dx, dy = quarter_offsets(heatmaps, j, x.astype(np.int64), y.astype(np.int64))
    persons[p, j, 0] = x + dx + 0.5
    persons[p, j, 1] = y + dy + 0.5
    return persons


def parse(heatmaps: torch.Tensor, tags: torch.Tensor, params: GroupingParams,
          coarse: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One image: heatmaps (K, H, W), tags (K, H, W, L) -> keypoints (P, K, 3) x, y, score in the
    heatmap's pixel grid and person scores (P,) (mean joint score before refinement).

    `coarse`: the half-resolution heatmaps (K, H/2, W/2) and tags (K, H/2, W/2, L) that `heatmaps`
    and `tags` are the ×2 bilinear projection of (as PROJECT2IMAGE does), or instead of those tags
    the quarter-resolution tags (K, H/4, W/4, L) they were upsampled from; when given, the pruning
    bounds come from them and the full maps are read only where a result can lie. Same output."""
    if tags.dim() == 3:
        tags = tags[..., None]
    heat_np, tags_np = heatmaps.float().cpu().numpy(), tags.float().cpu().numpy()
    if coarse is None:
        bounds = BlockBounds.from_maps(heat_np, tags_np)
    else:
        coarse_tags = coarse[1][..., None] if coarse[1].dim() == 3 else coarse[1]
        bounds = BlockBounds.from_coarse(coarse[0].float().cpu().numpy(), coarse_tags.float().cpu().numpy(),
                                         heat_np.shape[1:])
    peaks = top_k_peaks(heat_np, tags_np, params.max_people, params.nms_kernel, params.detection_threshold, bounds)
    persons = match_by_tag(*peaks, params)
    if len(persons) == 0:
        return np.zeros((0, heat_np.shape[0], 3), np.float32), np.zeros(0, np.float32)
    if params.adjust:
        persons = adjust(persons, heat_np)
    scores = persons[:, :, 2].mean(axis=1)
    if params.refine:
        persons = refine(persons, heat_np, tags_np, bounds)
    return persons[:, :, :3].astype(np.float32), scores.astype(np.float32)
