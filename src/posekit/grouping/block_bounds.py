"""Exact per-block bounds for associative-embedding grouping: per block of 8×8 pixels, an upper
bound of each heatmap and a box containing every tag, so that whole blocks can be skipped without
changing any result. Used by top-k (blocks that can hold a peak) and refinement (blocks that can
hold a joint's arg-max)."""
from __future__ import annotations

from typing import Callable

import numpy as np


class BlockBounds:
    """Per block of `block`² pixels of the maps parsed: an upper bound of each heatmap and a box
    containing every tag, so that whole blocks can be skipped exactly.

    Built either from the maps themselves (`from_maps`: one pass over each map) or, when the maps
    are the ×2 bilinear projection of half-resolution maps, from those (`from_coarse`: a quarter
    of the pixels). Tag boxes are computed when refinement needs them, for the joints it names
    (`prepare`) in one pass."""

    def __init__(self, heat_max: np.ndarray, tag_box: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                 shape: tuple[int, int], block: int, num_tags: int):
        self.heat_max = heat_max                          # (K, blocks_y, blocks_x)
        self.exact = np.zeros(heat_max.shape, bool)       # where heat_max is the block's exact max
        # Where a block was read: its joint and the flat pixel of its max (refinement's seeds), and
        # which joints have one. A log rather than a (K, blocks) map: refinement reads it whole.
        self._seed_parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._has_seed = np.zeros(len(heat_max), bool)
        self._tag_box = tag_box                           # joints (n,) -> min, max (n, blocks_y, blocks_x, L)
        self._tag_boxes: tuple[np.ndarray, np.ndarray] | None = None   # (K, blocks_y, blocks_x, L) each
        self._num_tags = num_tags
        self._has_box = np.zeros(len(heat_max), bool)
        self.block, (self.h, self.w) = block, shape
        self.blocks_y, self.blocks_x = heat_max.shape[1:]
        by, bx = np.divmod(np.arange(self.blocks_y * self.blocks_x), self.blocks_x)
        self.first_pixel = by * block * self.w + bx * block   # lowest flat index in each block
        self._tiled: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # id(maps) -> (maps, block view)

    @classmethod
    def from_maps(cls, heatmaps: np.ndarray, tags: np.ndarray, block: int = 8) -> BlockBounds:
        """Bounds read from heatmaps (K, H, W) and tags (K, H, W, L) themselves: each block's exact max."""
        bounds = cls(_block_reduce(heatmaps, block, np.maximum), lambda joints: _tag_box(tags[joints], block, 0),
                     heatmaps.shape[1:], block, tags.shape[-1])
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
        covered by a relative margin (a looser bound is still exact): with weights ≥ 0 summing to
        1, the computed combination is at most Σ wᵢ(xᵢ + γ|xᵢ|) for a γ of a few float32 epsilons,
        and x + γ|x| grows with x, so it is at most B + γ|B| for the block's bound B."""
        h, w = coarse_heatmaps.shape[1:]
        if tuple(shape) != (2 * h, 2 * w):
            raise ValueError(f"from_coarse: maps of size {tuple(shape)} are not the x2 projection of ({h}, {w})")
        tag_size = coarse_tags.shape[1:3]
        if tag_size not in ((h, w), (h // 2, w // 2)) or (tag_size != (h, w) and (h % 2 or w % 2)):
            raise ValueError(f"from_coarse: tags of size {tag_size} are neither ({h}, {w}) nor half of it")
        tag_block = 4 if tag_size == (h, w) else 2
        # An output pixel puts weight ≤ 0.4375 on the ring (0.25 + 0.25 − 0.0625, at a corner), so
        # with C the max of its coarse block and N ≥ every ring pixel (here: the max over the 3×3
        # blocks around), C + 0.4375·(N − C) bounds it; cheaper than the ring itself, and on noise
        # tighter. Margin: as for the tags, relative to the larger of |C| and |N|.
        core = _block_reduce(coarse_heatmaps, 4, np.maximum)
        near = _neighbourhood_max(core)
        heat_max = core + np.float32(0.4375) * (near - core)
        heat_max += MARGIN * np.maximum(np.abs(core), np.abs(near))

        def tag_box(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            every = len(joints) == len(coarse_tags) and (joints == np.arange(len(joints))).all()
            low, high = _tag_box(coarse_tags if every else coarse_tags[joints], tag_block, 1)
            low -= MARGIN * np.abs(low)     # as for heat: a combination's float result is ≥ L − γ|L|
            high += MARGIN * np.abs(high)
            return low, high

        return cls(heat_max, tag_box, tuple(shape), 8, coarse_tags.shape[-1])

    def prepare(self, joints: np.ndarray) -> None:
        """Compute the tag boxes of these joints (those not done yet) in one pass; before any
        `set_exact` of their tags, which it would overwrite with looser ranges."""
        todo = np.asarray(joints, np.int64)
        todo = todo[~self._has_box[todo]]
        if len(todo) == 0:
            return
        boxes = self.tag_boxes()
        boxes[0][todo], boxes[1][todo] = self._tag_box(todo)
        self._has_box[todo] = True

    def tag_box(self, joint: int) -> tuple[np.ndarray, np.ndarray]:
        """Min and max tag per block of one joint, (blocks_y, blocks_x, L) each."""
        self.prepare(np.array([joint]))
        return self._tag_boxes[0][joint], self._tag_boxes[1][joint]

    def pixel_at(self, blocks: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Flat pixel index of in-block offsets (0..block²−1, row-major, as `read` orders pixels) of
        flat blocks, broadcast together. Blocks cut by the map's edge repeat their last row/column,
        which changes no max, min or lowest arg-max index."""
        by, bx = np.divmod(blocks, self.blocks_x)
        oy, ox = np.divmod(offsets, self.block)
        return np.minimum(by * self.block + oy, self.h - 1) * self.w + np.minimum(bx * self.block + ox, self.w - 1)

    def pixels(self, blocks: np.ndarray) -> np.ndarray:
        """(n, block²) flat pixel indices of the given flat block indices, in `read`'s order."""
        return self.pixel_at(blocks[:, None], np.arange(self.block * self.block))

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
        self._record_peaks(joints, by, bx, heat)

    def _record_peaks(self, joints: np.ndarray | int, by: np.ndarray, bx: np.ndarray, heat: np.ndarray) -> None:
        """Record the exact max of read blocks (heat (n, block²)) and the pixel holding it, which
        refinement uses as a seed."""
        at = heat.argmax(axis=1)
        self.heat_max[joints, by, bx] = heat[np.arange(len(at)), at]
        self.exact[joints, by, bx] = True
        joints = np.broadcast_to(joints, at.shape)
        self._seed_parts.append((joints, self.pixel_at(by * self.blocks_x + bx, at)))
        self._has_seed[joints] = True

    def seeds(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint and flat pixel of the arg-max of every block read so far (each block once)."""
        if not self._seed_parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate([j for j, _ in self._seed_parts]), np.concatenate([p for _, p in self._seed_parts])

    def set_exact(self, joints: np.ndarray, blocks: np.ndarray, heat: np.ndarray | None = None,
                  tags: np.ndarray | None = None) -> None:
        """Record the exact heat max and/or tag range of read blocks (flat indices, one joint per
        block): heat (n, block²), tags (n, block², L)."""
        by, bx = np.divmod(blocks, self.blocks_x)
        if heat is not None:
            self.heat_max[joints, by, bx] = _row_extreme(heat, np.argmax)
            self.exact[joints, by, bx] = True
        if tags is not None:
            for d in range(tags.shape[2]):
                self._tag_boxes[0][joints, by, bx, d] = _row_extreme(tags[:, :, d], np.argmin)
                self._tag_boxes[1][joints, by, bx, d] = _row_extreme(tags[:, :, d], np.argmax)

    def seed(self, heatmaps: np.ndarray, joints: np.ndarray) -> None:
        """Make sure each of these joints has a block whose arg-max pixel is known: for those with
        none, read the block bounded highest."""
        joints = joints[~self._has_seed[joints]]
        if len(joints):
            top = self.heat_max.reshape(len(self.heat_max), -1)[joints].argmax(axis=1)
            by, bx = np.divmod(top, self.blocks_x)
            self._record_peaks(joints, by, bx, self.read(heatmaps, joints, top))

    def tag_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the tags per block, (K, blocks_y, blocks_x, L) each: the joints prepared have
        theirs, blocks whose tags were read their exact range, other blocks (−inf, inf)."""
        if self._tag_boxes is None:
            shape = (*self.heat_max.shape, self._num_tags)
            self._tag_boxes = (np.full(shape, -np.inf, np.float32), np.full(shape, np.inf, np.float32))
        return self._tag_boxes


def nonzero(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """np.nonzero(mask), same order: flat indices split by divmod, several times faster than
    numpy's multi-dimensional nonzero (e.g. 36 against 300 µs on a (17, 6656) mask)."""
    flat = np.flatnonzero(mask)
    indices = []
    for size in mask.shape[:0:-1]:
        flat, rest = np.divmod(flat, size)
        indices.append(rest)
    return (flat, *indices[::-1])


MARGIN = 1e-5  # relative slack for float rounding in bounds; far above float32 error, far below any gap


def _block_reduce(maps: np.ndarray, block: int, op: np.ufunc, ring: int = 0) -> np.ndarray:
    """op.reduce of (..., H, W) maps over each block of `block`² pixels widened by `ring` pixels on
    every side (clipped at the maps' edges) -> (..., ceil(H/block), ceil(W/block)), contiguous.
    In-place elementwise ops over strided slices along each axis in turn (several times faster than
    a reduction over short axes), rows first: that pass reads whole contiguous rows."""
    return _reduce_axis(_reduce_axis(maps, -2, block, op, ring), -1, block, op, ring)


def _row_extreme(rows: np.ndarray, arg: Callable[..., np.ndarray]) -> np.ndarray:
    """Min or max of each row of (n, m) through argmin/argmax (several times faster than
    .min/.max(axis=1) over many short rows)."""
    return rows[np.arange(len(rows)), arg(rows, axis=1)]


def _neighbourhood_max(maps: np.ndarray) -> np.ndarray:
    """Max over each pixel's 3×3 neighbourhood (clipped at the edges) of (..., H, W) maps."""
    rows = maps.copy()
    np.maximum(rows[..., 1:, :], maps[..., :-1, :], out=rows[..., 1:, :])
    np.maximum(rows[..., :-1, :], maps[..., 1:, :], out=rows[..., :-1, :])
    out = rows.copy()
    np.maximum(out[..., 1:], rows[..., :-1], out=out[..., 1:])
    np.maximum(out[..., :-1], rows[..., 1:], out=out[..., :-1])
    return out


def _tag_box(tags: np.ndarray, block: int, ring: int) -> tuple[np.ndarray, np.ndarray]:
    """tags (..., H, W, L) -> per-block min and max, each (..., blocks_y, blocks_x, L), contiguous."""
    planes = np.moveaxis(tags, -1, 0)
    return (np.ascontiguousarray(np.moveaxis(_block_reduce(planes, block, np.minimum, ring), 0, -1)),
            np.ascontiguousarray(np.moveaxis(_block_reduce(planes, block, np.maximum, ring), 0, -1)))


def _reduce_axis(maps: np.ndarray, axis: int, block: int, op: np.ufunc, ring: int) -> np.ndarray:
    n = maps.shape[axis]
    count = -(-n // block)
    if n != count * block:  # edge padding repeats a pixel of the same block: min/max unchanged
        last = np.take(maps, [n - 1], axis=axis)
        maps = np.concatenate([maps, np.repeat(last, count * block - n, axis=axis)], axis=axis)

    def part(start: int | None, stop: int | None, step: int | None = None) -> np.ndarray:
        return maps[(Ellipsis, slice(start, stop, step)) + (slice(None),) * (-1 - axis)]

    def out_part(array: np.ndarray, start: int | None, stop: int | None) -> np.ndarray:
        return array[(Ellipsis, slice(start, stop)) + (slice(None),) * (-1 - axis)]

    out = op(part(0, None, block), part(1, None, block)) if block > 1 else part(0, None, block).copy()
    for offset in range(2, block):
        op(out, part(offset, None, block), out=out)
    if ring and count > 1:  # the line before each block and the one after it, where they exist
        op(out_part(out, 1, None), part(block - 1, -1, block), out=out_part(out, 1, None))
        op(out_part(out, None, -1), part(block, None, block), out=out_part(out, None, -1))
    return out
