"""Associative-embedding grouping, exactly as the published HigherHRNet parse (`lib/core/group.py`):
max-pool NMS, top-k peaks per joint, joint-by-joint Hungarian matching on
round(tag distance)·100 − score, the ±0.25 px adjustment (+0.5), refinement of missing joints and
person score = mean joint score before refinement.

The hot paths are vectorised and pruned exactly with per-block bounds (`BlockBounds`, blocks of
8×8 pixels): NMS/top-k read only blocks whose heatmap bound exceeds the detection threshold, and
refinement only blocks whose bound on heat − round(tag distance) can still win; before NMS, the
candidate blocks' bounds are replaced by their exact maxima (a read of 64 pixels, no NMS window),
which on noisy maps rules most of them out and tightens refinement's bounds too. When the maps are
the test-time projection of the network's lower-resolution outputs, the bounds are computed from
those (a quarter of the pixels or fewer), so the full-size maps are read only where a result can
lie. One assignment per joint; adjustment over all persons at once. Ties in top-k are ordered by flat index (torch.topk
leaves their order unspecified). The matching semantics (joint order, the first `max_people`
groups as candidates, new groups keyed by their first tag value) are the original's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
    joint_of, blocks_y, blocks_x = np.nonzero(bounds.heat_max > threshold)
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
    patches = heatmaps[joint_of[:, None, None], patch_y[:, :, None], patch_x[:, None, :]]
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
    patch_index, iy, ix = np.nonzero((centre > threshold) & (centre == window_max) & inside)
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


def match_by_tag(values: np.ndarray, locations: np.ndarray, peak_tags: np.ndarray, params: GroupingParams
                 ) -> np.ndarray:
    """Group peaks into persons. Returns (P, K, 3 + L): x, y, score, tag per joint (zeros where absent)."""
    num_k, num_tag = values.shape[0], peak_tags.shape[2]
    joints_all = np.concatenate((locations.astype(np.float64), values[..., None], peak_tags), axis=2)
    persons: list[np.ndarray] = []          # (K, 3+L) per group, in creation order
    key_index: dict[float, int] = {}        # groups are keyed by the first tag value of their first joint
    # Float32 tags of each group (at most one per joint) and how many, averaged as the original does
    # (np.mean of the same (n, L) float32 rows), and the mean, None when the tags changed since.
    group_tags: list[np.ndarray] = []
    group_count: list[int] = []
    group_means: list[np.ndarray | None] = []

    def start_or_overwrite(row: np.ndarray, tag: np.ndarray, joint: int) -> None:
        slot = key_index.setdefault(float(tag[0]), len(persons))
        if slot == len(persons):
            persons.append(np.zeros((num_k, 3 + num_tag)))
            group_tags.append(np.empty((num_k, num_tag), np.float32))
            group_count.append(0)
            group_means.append(None)
        persons[slot][joint] = row
        group_tags[slot][0] = tag  # the original resets the group's tag list on a key collision too
        group_count[slot] = 1
        group_means[slot] = None

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
        for s in range(candidates):  # only groups whose tags changed since the last joint
            if group_means[s] is None:
                group_means[s] = np.mean(group_tags[s][:group_count[s]], axis=0)
        means = np.array(group_means[:candidates])
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
                group_tags[c][group_count[c]] = tag
                group_count[c] += 1
                group_means[c] = None
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


class BlockBounds:
    """Per block of `block`² pixels of the maps parsed: an upper bound of each heatmap and a box
    containing every tag, so that whole blocks can be skipped exactly.

    Built either from the maps themselves (`from_maps`: one pass over each map) or, when the maps
    are the ×2 bilinear projection of half-resolution maps, from those (`from_coarse`: a quarter
    of the pixels). Tag boxes are computed when refinement needs them, for the joints it names
    (`prepare`) in one pass."""

    def __init__(self, heat_max: np.ndarray, tag_box: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                 shape: tuple[int, int], block: int):
        self.heat_max = heat_max                          # (K, blocks_y, blocks_x)
        self.exact = np.zeros(heat_max.shape, bool)       # where heat_max is the block's exact max
        self.peak = np.full(heat_max.shape, -1, np.int64)  # flat pixel of that max where a block was read
        self._tag_box = tag_box                           # joints (n,) -> min, max (n, blocks_y, blocks_x, L)
        self._tag_boxes: tuple[np.ndarray, np.ndarray] | None = None   # (K, blocks_y, blocks_x, L) each
        self._has_box = np.zeros(len(heat_max), bool)
        self.block, (self.h, self.w) = block, shape
        self.blocks_y, self.blocks_x = heat_max.shape[1:]
        grid = np.arange(block)
        self.offset_y, self.offset_x = np.repeat(grid, block), np.tile(grid, block)
        by, bx = np.divmod(np.arange(self.blocks_y * self.blocks_x), self.blocks_x)
        self.first_pixel = by * block * self.w + bx * block   # lowest flat index in each block
        self._tiled: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # id(maps) -> (maps, block view)

    @classmethod
    def from_maps(cls, heatmaps: np.ndarray, tags: np.ndarray, block: int = 8) -> BlockBounds:
        bounds = cls(_block_reduce(heatmaps, block, np.maximum), lambda joints: _tag_box(tags[joints], block, 0),
                     heatmaps.shape[1:], block)
        bounds.exact[:] = True
        return bounds

    @classmethod
    def from_coarse(cls, coarse_heatmaps: np.ndarray, coarse_tags: np.ndarray, shape: tuple[int, int]
                    ) -> BlockBounds:
        """Bounds for maps of `shape` (H, W) = 2× the coarse (h, w) maps, bilinearly upsampled with
        align_corners=False: each output pixel is a convex combination of the coarse pixels at rows
        and columns floor(d/2 − 1/4) and the next (clipped), so an output block of 8 depends only on
        its coarse block of 4 and a one-pixel ring around it. `coarse_tags` may also be the quarter-
        resolution tags the half-resolution ones are the ×2 projection of (HigherHRNet's tags come
        from the 1/4 output only): by the same argument twice, a block of 8 then depends on a
        quarter-resolution block of 2 and a one-pixel ring. Rounding of these combinations is
        covered by a relative margin (a looser bound is still exact)."""
        h, w = coarse_heatmaps.shape[1:]
        if tuple(shape) != (2 * h, 2 * w):
            raise ValueError(f"from_coarse: maps of size {tuple(shape)} are not the x2 projection of ({h}, {w})")
        tag_size = coarse_tags.shape[1:3]
        if tag_size not in ((h, w), (h // 2, w // 2)) or (tag_size != (h, w) and (h % 2 or w % 2)):
            raise ValueError(f"from_coarse: tags of size {tag_size} are neither ({h}, {w}) nor half of it")
        tag_block = 4 if tag_size == (h, w) else 2
        heat_max = _block_reduce(coarse_heatmaps, 4, np.maximum, ring=1)
        magnitude = np.maximum(np.abs(heat_max.max(axis=(1, 2))), np.abs(coarse_heatmaps.reshape(len(heat_max), -1).min(axis=1)))
        heat_max += _MARGIN * magnitude[:, None, None]

        def tag_box(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            low, high = _tag_box(coarse_tags[joints], tag_block, 1)
            slack = _MARGIN * np.maximum(np.abs(low), np.abs(high))
            return low - slack, high + slack

        return cls(heat_max, tag_box, tuple(shape), 8)

    def prepare(self, joints: np.ndarray) -> None:
        """Compute the tag boxes of these joints (those not done yet) in one pass."""
        todo = np.asarray(joints, np.int64)
        todo = todo[~self._has_box[todo]]
        if len(todo) == 0:
            return
        low, high = self._tag_box(todo)
        if self._tag_boxes is None:
            self._tag_boxes = (np.empty((len(self.heat_max), *low.shape[1:]), low.dtype),
                               np.empty((len(self.heat_max), *high.shape[1:]), high.dtype))
        self._tag_boxes[0][todo], self._tag_boxes[1][todo] = low, high
        self._has_box[todo] = True

    def tag_box(self, joint: int) -> tuple[np.ndarray, np.ndarray]:
        """Min and max tag per block of one joint, (blocks_y, blocks_x, L) each."""
        self.prepare(np.array([joint]))
        return self._tag_boxes[0][joint], self._tag_boxes[1][joint]

    def pixels(self, blocks: np.ndarray) -> np.ndarray:
        """(n, block²) flat pixel indices of the given flat block indices. Blocks cut by the map's
        edge repeat their last row/column, which changes no max, min or lowest arg-max index."""
        by, bx = np.divmod(blocks, self.blocks_x)
        ys = np.minimum(by[:, None] * self.block + self.offset_y, self.h - 1)
        xs = np.minimum(bx[:, None] * self.block + self.offset_x, self.w - 1)
        return ys * self.w + xs

    def read(self, maps: np.ndarray, joints: np.ndarray | int, blocks: np.ndarray) -> np.ndarray:
        """The pixels of flat blocks `blocks` of maps `joints` (one joint, or one per block), from maps
        (K, H, W, ...) -> (n, block², ...) in the order of `pixels`. Blocks cut by the map's edge
        repeat its last row/column. When the blocks tile the maps they are read through a strided
        view (rows of `block` contiguous pixels), several times faster than per-pixel indices."""
        by, bx = np.divmod(blocks, self.blocks_x)
        b, rest = self.block, maps.shape[3:]
        if self.h % b == 0 and self.w % b == 0:
            held = self._tiled.get(id(maps))
            if held is None or held[0] is not maps:
                s = maps.strides
                held = self._tiled[id(maps)] = (maps, np.lib.stride_tricks.as_strided(
                    maps, (len(maps), self.blocks_y, b, self.blocks_x, b, *rest),
                    (s[0], b * s[1], s[1], b * s[2], s[2], *s[3:]), writeable=False))
            return held[1][joints, by, :, bx, :].reshape(len(blocks), b * b, *rest)
        joints = np.asarray(joints)
        grid = np.arange(b)
        ys = np.minimum(by[:, None, None] * b + grid[:, None], self.h - 1)
        xs = np.minimum(bx[:, None, None] * b + grid[None, :], self.w - 1)
        return maps[joints[..., None, None] if joints.ndim else joints, ys, xs].reshape(len(blocks), b * b, *rest)

    def make_exact(self, heatmaps: np.ndarray, joints: np.ndarray, blocks: np.ndarray) -> None:
        """Replace the heat bounds of these blocks (flat indices, one joint per block) by their exact
        max, reading only their heat: bounds from coarse maps exceed it by about the noise's
        amplitude, so on noisy maps this rules most candidates out before a full read."""
        by, bx = np.divmod(blocks, self.blocks_x)
        todo = ~self.exact[joints, by, bx]
        if not todo.any():
            return
        joints, by, bx = joints[todo], by[todo], bx[todo]
        heat = self.read(heatmaps, joints, blocks[todo])
        self._set_exact(joints, by, bx, heat)

    def _set_exact(self, joints: np.ndarray | int, by: np.ndarray, bx: np.ndarray, heat: np.ndarray) -> None:
        """Record the exact max of read blocks (heat (n, block²)) and the pixel holding it, which
        refinement uses as a seed."""
        at = heat.argmax(axis=1)
        self.heat_max[joints, by, bx] = heat[np.arange(len(at)), at]
        self.exact[joints, by, bx] = True
        y = np.minimum(by * self.block + at // self.block, self.h - 1)
        x = np.minimum(bx * self.block + at % self.block, self.w - 1)
        self.peak[joints, by, bx] = y * self.w + x

    def set_exact(self, joints: np.ndarray, blocks: np.ndarray, heat: np.ndarray | None = None,
                  tags: np.ndarray | None = None) -> None:
        """Record the exact heat max and/or tag range of read blocks (flat indices, one joint per
        block, joints prepared): heat (n, block²), tags (n, block², L)."""
        by, bx = np.divmod(blocks, self.blocks_x)
        if heat is not None:
            self.heat_max[joints, by, bx] = heat.max(axis=1)
            self.exact[joints, by, bx] = True
        if tags is not None:
            self._tag_boxes[0][joints, by, bx], self._tag_boxes[1][joints, by, bx] = tags.min(axis=1), tags.max(axis=1)

    def seed(self, heatmaps: np.ndarray, joints: np.ndarray) -> None:
        """Make sure each of these joints has a block whose arg-max pixel is known: for those with
        none, read the block bounded highest."""
        peaks = self.peak.reshape(len(self.peak), -1)
        joints = joints[(peaks[joints] < 0).all(axis=1)]
        if len(joints):
            top = self.heat_max.reshape(len(self.heat_max), -1)[joints].argmax(axis=1)
            by, bx = np.divmod(top, self.blocks_x)
            self._set_exact(joints, by, bx, self.read(heatmaps, joints, top))

    def tag_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Min and max tag per block, (K, blocks_y, blocks_x, L) each; valid for the joints prepared."""
        if self._tag_boxes is None:
            raise RuntimeError("tag_boxes: no joint prepared")
        return self._tag_boxes


_MARGIN = 1e-5  # relative slack for float rounding in bounds; far above float32 error, far below any gap


def _block_reduce(maps: np.ndarray, block: int, op: np.ufunc, ring: int = 0) -> np.ndarray:
    """op.reduce of (..., H, W) maps over each block of `block`² pixels widened by `ring` pixels on
    every side (clipped at the maps' edges) -> (..., ceil(H/block), ceil(W/block)). Strided
    elementwise ops along each axis in turn (several times faster than a reduction over short axes),
    rows first so that the full-size pass reads whole contiguous rows."""
    return _reduce_last(np.swapaxes(_reduce_last(np.swapaxes(maps, -1, -2), block, op, ring), -1, -2), block, op, ring)


def _tag_box(tags: np.ndarray, block: int, ring: int) -> tuple[np.ndarray, np.ndarray]:
    """tags (..., H, W, L) -> per-block min and max, each (..., blocks_y, blocks_x, L), contiguous."""
    planes = np.moveaxis(tags, -1, 0)
    return (np.ascontiguousarray(np.moveaxis(_block_reduce(planes, block, np.minimum, ring), 0, -1)),
            np.ascontiguousarray(np.moveaxis(_block_reduce(planes, block, np.maximum, ring), 0, -1)))


def _reduce_last(maps: np.ndarray, block: int, op: np.ufunc, ring: int) -> np.ndarray:
    n = maps.shape[-1]
    count = -(-n // block)
    if n != count * block:  # edge padding repeats a pixel of the same block: min/max unchanged
        maps = np.concatenate([maps, np.repeat(maps[..., -1:], count * block - n, axis=-1)], axis=-1)
    out = maps[..., 0::block]
    for offset in range(1, block):
        out = op(out, maps[..., offset::block])
    if ring:  # the column before each block and the one after it, where they exist
        out[..., 1:] = op(out[..., 1:], maps[..., block - 1:-1:block])
        out[..., :-1] = op(out[..., :-1], maps[..., block::block])
    return out


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)


def _levels(low: np.ndarray, high: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Lower bound of round(‖tag − mean‖) over tag boxes low/high (..., L) for means (..., L), elementwise
    (round is monotone; the distance to the box is shrunk slightly so float rounding cannot overstate it)."""
    gap = np.maximum(0, np.maximum(low - means, means - high))
    distance = (gap[..., 0] ** 2 if gap.shape[-1] == 1 else (gap ** 2).sum(axis=-1)) ** 0.5
    return np.round(np.maximum(distance * (1 - _MARGIN) - _MARGIN, 0))


def _values(heat: np.ndarray, tags: np.ndarray, means: np.ndarray) -> np.ndarray:
    """heat − round(‖tag − mean‖) elementwise, in the original's float32 arithmetic."""
    return heat - np.round(((tags - means) ** 2).sum(axis=-1) ** 0.5)


def _better(value: np.ndarray, index: np.ndarray, best_value: np.ndarray, best_index: np.ndarray) -> np.ndarray:
    return (value > best_value) | ((value == best_value) & (index < best_index))


def _refine_argmax(heatmaps: np.ndarray, tags: np.ndarray, bounds: BlockBounds, pair_joint: np.ndarray,
                   pair_tag: np.ndarray, first: int = 32) -> np.ndarray:
    """For each (joint, mean tag) pair (pair_joint (n,), pair_tag (n, L), sorted by joint): the flat
    index of argmax(heat − round(‖tag − mean_tag‖)) over that joint's map, lowest index on ties, as
    np.argmax over the full map gives. All pairs of an image are searched together.

    1. Seeds: every block read so far (top-k's candidates) left its arg-max pixel; a pair's best
       seed is a real pixel, so its value `lb` bounds the result from below.
    2. Candidate (pair, block) edges without a (pairs × blocks) bound pass where possible: a block
       can hold a better pixel only if its heat bound is ≥ lb + its level, so for a pair with a high
       lb only blocks with heat ≥ lb qualify (few: the noise sits below); for one with a low lb, the
       blocks at level 0 with heat ≥ lb or with heat ≥ lb + 1 (one pass over the joint's blocks).
    3. The candidates' heat bounds are made exact (a read of 64 values each). Then, in rounds, each
       pair adds its best-bound edges that can still win (`first`, then twice as many each round);
       the blocks are read once and every pixel whose heat alone could still beat a pair of its
       joint is scored for all of them. An edge is skipped when its bound is below the pair's best
       value, or equal to it while the block's lowest pixel index is above the best index (it can
       neither win nor win a tie)."""
    num_k, h, w = heatmaps.shape
    num_blocks = bounds.blocks_y * bounds.blocks_x
    heat_bound = bounds.heat_max.reshape(num_k, num_blocks)          # a view: make_exact updates it
    low_box, high_box = (box.reshape(num_k, num_blocks, -1) for box in bounds.tag_boxes())
    joints = np.unique(pair_joint)
    bounds.seed(heatmaps, joints)
    # 1. Seeds, padded per joint: (pairs × seeds of its joint).
    seed_joint, seed_block = np.nonzero(bounds.peak.reshape(num_k, num_blocks)[joints] >= 0)
    seed_joint = joints[seed_joint]
    seed_pixel = bounds.peak.reshape(num_k, num_blocks)[seed_joint, seed_block]
    counts = np.bincount(seed_joint, minlength=num_k)
    slot = _ragged_arange(counts[joints])
    y, x = np.divmod(seed_pixel, w)
    pad_heat = np.full((num_k, counts.max()), -np.inf, np.float32)
    pad_tags = np.zeros((num_k, counts.max(), tags.shape[-1]), np.float32)
    pad_pixel = np.full((num_k, counts.max()), _NO_INDEX, np.int64)
    pad_heat[seed_joint, slot], pad_tags[seed_joint, slot], pad_pixel[seed_joint, slot] = \
        heatmaps[seed_joint, y, x], tags[seed_joint, y, x], seed_pixel
    values = _values(pad_heat[pair_joint], pad_tags[pair_joint], pair_tag[:, None])
    best_value = values.max(axis=1)
    best_index = np.where(values == best_value[:, None], pad_pixel[pair_joint], _NO_INDEX).min(axis=1)

    # 2. Candidate edges.
    high = best_value >= _HIGH_SEED
    threshold = np.full(num_k, np.inf, np.float32)
    np.minimum.at(threshold, pair_joint[high], best_value[high])
    cand_joint, cand_block = np.nonzero(heat_bound >= threshold[:, None])
    per_joint = np.bincount(cand_joint, minlength=num_k)
    starts = np.cumsum(per_joint) - per_joint
    high_pairs = np.flatnonzero(high)
    n_each = per_joint[pair_joint[high_pairs]]
    edge_pair = np.repeat(high_pairs, n_each)
    edge_block = cand_block[np.repeat(starts[pair_joint[high_pairs]], n_each) + _ragged_arange(n_each)]
    edge_joint = pair_joint[edge_pair]

    def edge_bounds(chosen: np.ndarray | slice = slice(None)) -> np.ndarray:
        joint, block = edge_joint[chosen], edge_block[chosen]
        return heat_bound[joint, block] - _levels(low_box[joint, block], high_box[joint, block], pair_tag[edge_pair[chosen]])

    def keep_open() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        upper = edge_bounds()
        keep = _better(upper, bounds.first_pixel[edge_block], best_value[edge_pair], best_index[edge_pair])
        return edge_pair[keep], edge_block[keep], edge_joint[keep], upper[keep]

    def open_edges(upper: np.ndarray) -> np.ndarray:
        return _better(upper, bounds.first_pixel[edge_block], best_value[edge_pair], best_index[edge_pair])

    # Exact heat maxima of the high-seed pairs' blocks still open (on noisy maps most then close).
    edge_pair, edge_block, edge_joint, upper = keep_open()
    key = np.unique(edge_joint * num_blocks + edge_block)
    bounds.make_exact(heatmaps, *np.divmod(key, num_blocks))
    edge_pair, edge_block, edge_joint, upper = keep_open()
    # Low-seed pairs: bounds over all blocks of their joint; their blocks are made exact as the
    # rounds reach them.
    low_pairs = np.flatnonzero(~high)
    if len(low_pairs):
        lj = pair_joint[low_pairs]
        low_upper = heat_bound[lj] - _levels(low_box[lj], high_box[lj], pair_tag[low_pairs][:, None])
        row, block = np.nonzero(_better(low_upper, bounds.first_pixel[None], best_value[low_pairs][:, None],
                                        best_index[low_pairs][:, None]))
        edge_pair = np.concatenate((edge_pair, low_pairs[row]))
        edge_block = np.concatenate((edge_block, block))
        edge_joint = np.concatenate((edge_joint, lj[row]))
        upper = np.concatenate((upper, low_upper[row, block]))
    # Per pair, its edges best bound first (ties by lowest index: edges are in block order).
    order = np.argsort(edge_pair * 64.0 - upper, kind="stable")
    edge_pair, edge_block, edge_joint, upper = edge_pair[order], edge_block[order], edge_joint[order], upper[order]
    batch = first
    while True:
        # Edges that closed stay closed (best values only grow): drop them, then each pair's
        # first `batch` edges (they are pair-sorted, best bound first).
        live = open_edges(upper)
        edge_pair, edge_block, edge_joint, upper = edge_pair[live], edge_block[live], edge_joint[live], upper[live]
        if len(edge_pair) == 0:
            return best_index
        first_edge = np.flatnonzero(np.r_[True, edge_pair[1:] != edge_pair[:-1]])
        rank = np.arange(len(edge_pair)) - np.repeat(first_edge, np.diff(np.r_[first_edge, len(edge_pair)]))
        chosen = np.flatnonzero(rank < batch)
        # Each block's tags are read once per round and its exact tag range recorded first (the
        # ranges from coarse tags are several times wider on noisy tags; most edges close on the
        # exact ones), then the heat of the blocks still open, likewise.
        edge_key = edge_joint[chosen] * num_blocks + edge_block[chosen]
        key, row_of = np.unique(edge_key, return_inverse=True)
        block_joint, block = np.divmod(key, num_blocks)
        block_tags = bounds.read(tags, block_joint, block)                   # (b, block², L)
        bounds.set_exact(block_joint, block, tags=block_tags)
        still = _better(edge_bounds(chosen), bounds.first_pixel[edge_block[chosen]],
                        best_value[edge_pair[chosen]], best_index[edge_pair[chosen]])
        upper[chosen] = -np.inf                                               # searched: dropped next round
        chosen, row_of = chosen[still], row_of[still]
        if len(chosen) == 0:
            batch *= 2
            continue
        needed, row_of = np.unique(row_of, return_inverse=True)
        block_joint, block, block_tags = block_joint[needed], block[needed], block_tags[needed]
        heat = bounds.read(heatmaps, block_joint, block)                     # (r, block²)
        bounds.set_exact(block_joint, block, heat=heat)
        # Each open edge scores its block's pixels whose heat alone could still beat its pair.
        e_pair = edge_pair[chosen]
        e_index, p_index = np.nonzero(heat[row_of] >= best_value[e_pair][:, None])
        if len(e_index):
            pair, rows = e_pair[e_index], row_of[e_index]
            values = _values(heat[rows, p_index], block_tags[rows, p_index], pair_tag[pair])
            by, bx = np.divmod(block[rows], bounds.blocks_x)
            pixel = (np.minimum(by * bounds.block + p_index // bounds.block, h - 1) * w
                     + np.minimum(bx * bounds.block + p_index % bounds.block, w - 1))
            starts = np.r_[True, pair[1:] != pair[:-1]]                       # survivors are pair-sorted
            segment = np.flatnonzero(starts)
            top = np.maximum.reduceat(values, segment)
            pairs = pair[segment]
            tied = values == top[np.cumsum(starts) - 1]
            index = np.minimum.reduceat(np.where(tied, pixel, _NO_INDEX), segment)
            better = _better(top, index, best_value[pairs], best_index[pairs])
            best_value[pairs[better]], best_index[pairs[better]] = top[better], index[better]
        batch *= 2


_NO_INDEX = np.iinfo(np.int64).max
# Seeds at least this good bound a pair's search by heat alone (blocks of noise sit below it);
# lower ones also use the blocks' tag ranges. Either way is exact: this only picks the cheaper one.
_HIGH_SEED = 0.05


def refine(persons: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray, bounds: BlockBounds | None = None
           ) -> np.ndarray:
    """Add each person's missing joints at argmax(heatmap − round(‖tag − person mean tag‖)) when the
    heatmap value there is positive. Only missing joints are computed (the others are never used);
    every (person, missing joint) pair of the image is searched at once."""
    persons = persons.copy()
    if len(persons) == 0:
        return persons
    if bounds is None:
        bounds = BlockBounds.from_maps(heatmaps, tags)
    present = persons[:, :, 2] > 0
    joint, who = np.nonzero(~present.T)                   # pairs sorted by joint
    if len(joint) == 0:
        return persons
    bounds.prepare(np.unique(joint))
    # Per person, as the original (np.mean of float32 tags): the same float32 rounding.
    mean_tags = np.stack([tags[np.flatnonzero(row), p[row, 1].astype(np.int32), p[row, 0].astype(np.int32)].mean(axis=0)
                          for p, row in zip(persons, present)])
    best = _refine_argmax(heatmaps, tags, bounds, joint, mean_tags[who])
    w = heatmaps.shape[2]
    y, x = np.divmod(best, w)
    value = heatmaps[joint, y, x]
    found = value > 0
    joint, who, x, y, value = joint[found], who[found], x[found], y[found], value[found]
    dx, dy = _quarter_offsets(heatmaps, joint, x, y)
    persons[who, joint, 0] = x + 0.5 + dx
    persons[who, joint, 1] = y + 0.5 + dy
    persons[who, joint, 2] = value
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
