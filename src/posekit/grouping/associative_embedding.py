"""Associative-embedding grouping, exactly as the published HigherHRNet parse (`lib/core/group.py`):
max-pool NMS, top-k peaks per joint, joint-by-joint Hungarian matching on
round(tag distance)·100 − score, the ±0.25 px adjustment (+0.5), refinement of missing joints and
person score = mean joint score before refinement.

The hot paths are vectorised and pruned exactly: NMS/top-k evaluate only pixels above the
detection threshold, refinement only the 8x8 blocks whose bound can still win; one assignment per
joint; adjustment over all persons at once. Ties in top-k are ordered by flat index (torch.topk
leaves their order unspecified). The matching semantics (joint order, the first `max_people`
groups as candidates, new groups keyed by their first tag value) are the original's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

# Published grouping order for COCO-17: head first, then shoulders, hips, elbows, wrists, knees, ankles.
COCO_JOINT_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)


def default_joint_order(num_keypoints: int) -> tuple[int, ...]:
    return COCO_JOINT_ORDER if num_keypoints == 17 else tuple(range(num_keypoints))


@dataclass(frozen=True)
class GroupingParams:
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
        return self.joint_order or default_joint_order(self.num_keypoints)


def top_k_peaks(heatmaps: np.ndarray, tags: np.ndarray, k: int, nms_kernel: int, threshold: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """heatmaps (K, H, W), tags (K, H, W, L) -> values (K, k), locations (K, k, 2) as x, y and
    tags (K, k, L) of the k highest max-pool-NMS survivors of each joint that exceed `threshold`,
    ordered by value, ties by flat index; unused rows are zero.

    The published parse takes the top k survivors and then drops those not above the detection
    threshold, so only pixels above it can matter: the window maxima are computed for those only."""
    if threshold < 0:
        raise ValueError(f"detection threshold must be >= 0, got {threshold}")
    num_k, h, w = heatmaps.shape
    pad = nms_kernel // 2
    padded_w = w + 2 * pad
    window = (np.arange(nms_kernel)[:, None] * padded_w + np.arange(nms_kernel)[None, :]).ravel()
    values = np.zeros((num_k, k), np.float32)
    locations = np.zeros((num_k, k, 2), np.int64)
    peak_tags = np.zeros((num_k, k, tags.shape[-1]), np.float32)
    for joint in range(num_k):
        flat = heatmaps[joint].ravel()
        candidates = np.flatnonzero(flat > threshold)
        if len(candidates) == 0:
            continue
        padded = np.pad(heatmaps[joint], pad, constant_values=-np.inf).ravel()
        ys, xs = np.divmod(candidates, w)
        window_max = padded[(ys * padded_w + xs)[:, None] + window].max(axis=1)
        survivors = candidates[flat[candidates] == window_max]
        order = np.lexsort((survivors, -flat[survivors]))[:k]
        chosen = survivors[order]
        n = len(chosen)
        values[joint, :n] = flat[chosen]
        locations[joint, :n, 0], locations[joint, :n, 1] = chosen % w, chosen // w
        peak_tags[joint, :n] = tags[joint].reshape(h * w, -1)[chosen]
    return values, locations, peak_tags


def match_by_tag(values: np.ndarray, locations: np.ndarray, peak_tags: np.ndarray, params: GroupingParams
                 ) -> np.ndarray:
    """Group peaks into persons. Returns (P, K, 3 + L): x, y, score, tag per joint (zeros where absent)."""
    num_k, num_tag = values.shape[0], peak_tags.shape[2]
    joints_all = np.concatenate((locations.astype(np.float64), values[..., None], peak_tags), axis=2)
    persons: list[np.ndarray] = []          # (K, 3+L) per group, in creation order
    key_index: dict[float, int] = {}        # groups are keyed by the first tag value of their first joint
    group_tags: list[list[np.ndarray]] = []  # float32 tags of each group, averaged as the original does

    def start_or_overwrite(row: np.ndarray, tag: np.ndarray, joint: int) -> None:
        slot = key_index.setdefault(float(tag[0]), len(persons))
        if slot == len(persons):
            persons.append(np.zeros((num_k, 3 + num_tag)))
            group_tags.append([])
        persons[slot][joint] = row
        group_tags[slot] = [tag]  # the original resets the group's tag list on a key collision too

    for step, joint in enumerate(params.order):
        keep = values[joint] > params.detection_threshold
        joints, tags = joints_all[joint][keep], peak_tags[joint][keep]
        if len(joints) == 0:
            continue
        if step == 0 or not persons:
            for row, tag in zip(joints, tags):
                start_or_overwrite(row, tag, joint)
            continue
        candidates = min(len(persons), params.max_people)
        if params.ignore_too_much and candidates == params.max_people:
            continue
        means = np.array([np.mean(group_tags[s], axis=0) for s in range(candidates)])
        distance = np.linalg.norm(joints[:, None, 3:] - means[None], ord=2, axis=2)
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
        real = rows < num_rows
        assigned = np.full(num_rows, -1)
        assigned[rows[real]] = np.where(cols[real] < num_cols, cols[real], -1)
        for r, (row, tag) in enumerate(zip(joints, tags)):
            c = assigned[r]
            if c >= 0 and distance[r, c] < params.tag_threshold:
                persons[c][joint] = row
                group_tags[c].append(tag)
            else:
                start_or_overwrite(row, tag, joint)
    if not persons:
        return np.zeros((0, num_k, 3 + num_tag), np.float32)
    return np.stack(persons).astype(np.float32)


def _quarter_offsets(heatmaps: np.ndarray, joint: np.ndarray, x: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """±0.25 toward the higher neighbour (ties go down), per (joint, x, y) integer position."""
    _, h, w = heatmaps.shape
    right = heatmaps[joint, y, np.minimum(x + 1, w - 1)] > heatmaps[joint, y, np.maximum(x - 1, 0)]
    down = heatmaps[joint, np.minimum(y + 1, h - 1), x] > heatmaps[joint, np.maximum(y - 1, 0), x]
    return np.where(right, 0.25, -0.25), np.where(down, 0.25, -0.25)


def adjust(persons: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    persons = persons.copy()
    p, j = np.nonzero(persons[:, :, 2] > 0)
    x, y = persons[p, j, 0], persons[p, j, 1]
    dx, dy = _quarter_offsets(heatmaps, j, x.astype(np.int64), y.astype(np.int64))
    persons[p, j, 0] = x + dx + 0.5
    persons[p, j, 1] = y + dy + 0.5
    return persons


class _RefineBounds:
    """Per-block maxima of the heatmaps and per-block tag ranges (blocks of `block`² pixels), to
    skip, exactly, the pixels that cannot hold a person's refinement argmax.

    For a pixel p, heat(p) − round(‖tag(p) − m‖) ≤ blockmax(heat) − round(dist(m, block tag box)),
    since rounding is monotone. Only blocks whose bound reaches the best value found so far are
    evaluated; ties keep the lowest flat index, as np.argmax over the full map does."""

    def __init__(self, heatmaps: np.ndarray, tags: np.ndarray, block: int = 8):
        self.heatmaps, self.tags = heatmaps, tags
        self.block, (_, self.h, self.w) = block, heatmaps.shape
        self.blocks_y, self.blocks_x = -(-self.h // block), -(-self.w // block)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        grid = np.arange(block)
        self.offset_y = np.repeat(grid, block)
        self.offset_x = np.tile(grid, block)

    def _reduce(self, image: np.ndarray, pad_value: float | None, op: np.ufunc) -> np.ndarray:
        """Block-wise op.reduce of an (H, W) map: elementwise over the b strided column slices, then
        across rows (several times faster than a reduction over short axes)."""
        b, by, bx = self.block, self.blocks_y, self.blocks_x
        if image.shape != (by * b, bx * b):
            extra = ((0, by * b - self.h), (0, bx * b - self.w))
            # Edge padding repeats pixels of the same partial block, so a tag range is unchanged.
            image = (np.pad(image, extra, mode="edge") if pad_value is None
                     else np.pad(image, extra, constant_values=pad_value))
        columns = image[:, 0::b]
        for offset in range(1, b):
            columns = op(columns, image[:, offset::b])
        return op.reduce(columns.reshape(by, b, bx), axis=1)

    def _joint(self, joint: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block max of the heatmap and block min/max of each tag dimension, computed on demand."""
        if joint not in self._cache:
            tag_planes = np.moveaxis(self.tags[joint], -1, 0)
            self._cache[joint] = (
                self._reduce(self.heatmaps[joint], -np.inf, np.maximum),
                np.stack([self._reduce(t, None, np.minimum) for t in tag_planes], axis=-1),
                np.stack([self._reduce(t, None, np.maximum) for t in tag_planes], axis=-1))
        return self._cache[joint]

    def pixels(self, blocks: np.ndarray) -> np.ndarray:
        """Flat pixel indices inside the given flat block indices."""
        by, bx = np.divmod(blocks, self.blocks_x)
        ys = by[:, None] * self.block + self.offset_y
        xs = bx[:, None] * self.block + self.offset_x
        inside = (ys < self.h) & (xs < self.w)
        return (ys * self.w + xs)[inside]

    def upper_bounds(self, joint: int, mean_tag: np.ndarray) -> np.ndarray:
        heat_max, tag_min, tag_max = self._joint(joint)
        gap = np.maximum(0, np.maximum(tag_min - mean_tag, mean_tag - tag_max))
        return (heat_max - np.round((gap ** 2).sum(axis=2) ** 0.5)).ravel()


def _refine_argmax(flat_heat: np.ndarray, flat_tags: np.ndarray, mean_tag: np.ndarray, bounds: _RefineBounds,
                   joint: int, first: int = 16) -> int:
    """Flat index of argmax(heat − round(‖tag − mean_tag‖)), lowest index on ties: the `first`
    blocks of highest bound give a floor, then every other block whose bound reaches it is searched."""
    upper = bounds.upper_bounds(joint, mean_tag)

    def search(blocks: np.ndarray) -> tuple[float, int]:
        pixels = bounds.pixels(blocks)
        values = flat_heat[pixels] - np.round(((flat_tags[pixels] - mean_tag) ** 2).sum(axis=1) ** 0.5)
        top = values.max()
        return float(top), int(pixels[values == top].min())

    seeds = np.argpartition(-upper, first)[:first] if len(upper) > first else np.arange(len(upper))
    floor, index = search(seeds)
    rest = np.flatnonzero(upper >= floor)
    rest = rest[~np.isin(rest, seeds)]
    if len(rest):
        top, other = search(rest)
        if top > floor or (top == floor and other < index):
            index = other
    return index


def refine(persons: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray, bounds: _RefineBounds | None = None
           ) -> np.ndarray:
    """Add each person's missing joints at argmax(heatmap − round(‖tag − person mean tag‖)) when the
    heatmap value there is positive. Only missing joints are computed (the others are never used)."""
    persons = persons.copy()
    _, h, w = heatmaps.shape
    flat_heat = heatmaps.reshape(len(heatmaps), -1)
    flat_tags = tags.reshape(len(tags), h * w, -1)
    if bounds is None:
        bounds = _RefineBounds(heatmaps, tags)
    for person in persons:
        present = np.nonzero(person[:, 2] > 0)[0]
        missing = np.nonzero(person[:, 2] == 0)[0]
        if len(missing) == 0:
            continue
        xs = person[present, 0].astype(np.int32)
        ys = person[present, 1].astype(np.int32)
        mean_tag = tags[present, ys, xs].mean(axis=0)
        for joint in missing:
            best = _refine_argmax(flat_heat[joint], flat_tags[joint], mean_tag, bounds, joint)
            value = flat_heat[joint, best]
            if value > 0:
                y, x = divmod(best, w)
                dx, dy = _quarter_offsets(heatmaps, np.array([joint]), np.array([x]), np.array([y]))
                person[joint, :3] = (x + 0.5 + dx[0], y + 0.5 + dy[0], value)
    return persons


def parse(heatmaps: torch.Tensor, tags: torch.Tensor, params: GroupingParams) -> tuple[np.ndarray, np.ndarray]:
    """One image: heatmaps (K, H, W), tags (K, H, W, L) -> keypoints (P, K, 3) x, y, score in the
    heatmap's pixel grid and person scores (P,) (mean joint score before refinement)."""
    if tags.dim() == 3:
        tags = tags[..., None]
    heatmaps = heatmaps.float().cpu()
    tags = tags.float().cpu()
    heat_np, tags_np = heatmaps.numpy(), tags.numpy()
    peaks = top_k_peaks(heat_np, tags_np, params.max_people, params.nms_kernel, params.detection_threshold)
    persons = match_by_tag(*peaks, params)
    if len(persons) == 0:
        return np.zeros((0, heatmaps.shape[0], 3), np.float32), np.zeros(0, np.float32)
    if params.adjust:
        persons = adjust(persons, heat_np)
    scores = persons[:, :, 2].mean(axis=1)
    if params.refine:
        persons = refine(persons, heat_np, tags_np)
    return persons[:, :, :3].astype(np.float32), scores.astype(np.float32)
