"""Refinement of missing joints, exactly as the published HigherHRNet parse: each person's missing
joint goes to argmax(heatmap − round(‖tag − person mean tag‖)) over the whole map when the heatmap
is positive there. All (person, missing joint) pairs of an image are searched at once over the
blocks that `BlockBounds` cannot rule out (see `_refine_argmax`)."""
from __future__ import annotations

import numpy as np

from posekit.grouping.block_bounds import MARGIN, BlockBounds, nonzero


def quarter_offsets(heatmaps: np.ndarray, joint: np.ndarray, x: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """±0.25 toward the higher neighbour (ties go down), per (joint, x, y) integer position."""
    _, h, w = heatmaps.shape
    right = heatmaps[joint, y, np.minimum(x + 1, w - 1)] > heatmaps[joint, y, np.maximum(x - 1, 0)]
    down = heatmaps[joint, np.minimum(y + 1, h - 1), x] > heatmaps[joint, np.maximum(y - 1, 0), x]
    return np.where(right, 0.25, -0.25), np.where(down, 0.25, -0.25)


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)


def _levels(low: np.ndarray, high: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Lower bound of round(‖tag − mean‖) over tag boxes low/high (..., L) for means (..., L), elementwise
    (round is monotone; the distance to the box is shrunk slightly so float rounding cannot overstate it)."""
    if low.shape[-1] == 1:  # one tag dimension: the distance is the gap itself (negative inside)
        distance = np.maximum(low[..., 0] - means[..., 0], means[..., 0] - high[..., 0])
    else:
        gap = np.maximum(0, np.maximum(low - means, means - high))
        distance = (gap ** 2).sum(axis=-1) ** 0.5
    return np.round(np.maximum(distance * (1 - MARGIN) - MARGIN, 0))


def _values(heat: np.ndarray, tags: np.ndarray, means: np.ndarray) -> np.ndarray:
    """heat − round(‖tag − mean‖) elementwise, in the original's float32 arithmetic."""
    return heat - np.round(((tags - means) ** 2).sum(axis=-1) ** 0.5)


def _better(value: np.ndarray, index: np.ndarray, best_value: np.ndarray, best_index: np.ndarray) -> np.ndarray:
    return (value > best_value) | ((value == best_value) & (index < best_index))


def _pair_major_order(pair: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Order grouping edges by pair, then by decreasing bound: one sort of pair·span − bound, with
    span wider than the bounds' spread (a lexsort where bounds are not finite)."""
    if len(upper) == 0:
        return np.zeros(0, np.int64)
    low, high = float(upper.min()), float(upper.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        return np.lexsort((-upper, pair))
    return np.argsort(pair * (high - low + 1.0) - upper)


def _seeded_best(heatmaps: np.ndarray, tags: np.ndarray, bounds: BlockBounds, pair_joint: np.ndarray,
                 pair_tag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's best value and lowest index over the seed pixels of its joint (the arg-max pixels
    of the blocks read so far; one block is read for joints with none), padded to
    (pairs × seeds of a joint) so that all pairs are scored at once."""
    num_k, w = len(heatmaps), heatmaps.shape[2]
    joints = np.unique(pair_joint)
    bounds.seed(heatmaps, joints)
    seed_joint, seed_pixel = bounds.seeds()
    wanted = np.zeros(num_k, bool)
    wanted[joints] = True
    keep = np.flatnonzero(wanted[seed_joint])
    keep = keep[np.argsort(seed_joint[keep], kind="stable")]         # grouped by joint, in joints' order
    seed_joint, seed_pixel = seed_joint[keep], seed_pixel[keep]
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
    return best_value, np.where(values == best_value[:, None], pad_pixel[pair_joint], _NO_INDEX).min(axis=1)


def _refine_argmax(heatmaps: np.ndarray, tags: np.ndarray, bounds: BlockBounds, pair_joint: np.ndarray,
                   pair_tag: np.ndarray, first: int = 32) -> np.ndarray:
    """For each (joint, mean tag) pair (pair_joint (n,), pair_tag (n, L), sorted by joint): the flat
    index of argmax(heat − round(‖tag − mean_tag‖)) over that joint's map, lowest index on ties, as
    np.argmax over the full map gives. All pairs of an image are searched together.

    1. Seeds: every block read so far (top-k's candidates) left its arg-max pixel; a pair's best
       seed is a real pixel, so its value `lb` bounds the result from below.
    2. Candidate (pair, block) edges, without a (pairs × blocks) pass where possible: a block can
       hold a better pixel only if its heat bound is ≥ lb + its level. For a pair with a high lb
       only blocks whose heat reaches lb qualify (few: the noise sits below); their heat maxima are
       made exact (64 reads each), and their level is bounded by 0 until their tags are read. For a
       pair with a low lb, one pass over its joint's blocks with their tag boxes (computed only for
       the joints of such pairs).
    3. Rounds: each pair takes its best-bound edges that can still win (`first`, then twice as many
       each round). The chosen blocks' tags are read once and their exact tag ranges recorded
       (coarse ranges are several times wider on noisy tags, and most edges close on the exact
       ones); then the heat of the blocks still open, the edges are tested again on the exact
       maxima, and each edge still open scores its whole block. An edge is dropped when its bound
       is below the pair's best value, or equal to it while the block's lowest pixel index is above
       the best index (it can neither win nor win a tie); best values only grow, so dropped edges
       stay out."""
    num_k = len(heatmaps)
    num_blocks = bounds.blocks_y * bounds.blocks_x
    heat_bound = bounds.heat_max.reshape(num_k, num_blocks)          # a view: make_exact updates it
    best_value, best_index = _seeded_best(heatmaps, tags, bounds, pair_joint, pair_tag)

    # 2. Candidate edges. Only joints with low-seed pairs get tag boxes (one pass over their coarse
    # tags); for the others a block's level is bounded by 0 until its tags are read.
    high = best_value >= _HIGH_SEED
    bounds.prepare(np.unique(pair_joint[~high]))
    low_box, high_box = (box.reshape(num_k, num_blocks, -1) for box in bounds.tag_boxes())
    threshold = np.full(num_k, np.inf, np.float32)
    np.minimum.at(threshold, pair_joint[high], best_value[high])
    cand_joint, cand_block = nonzero(heat_bound >= threshold[:, None])
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
        row, block = nonzero(low_upper >= best_value[low_pairs][:, None])    # then the tie rule on these
        keep = _better(low_upper[row, block], bounds.first_pixel[block], best_value[low_pairs[row]],
                       best_index[low_pairs[row]])
        row, block = row[keep], block[keep]
        edge_pair = np.concatenate((edge_pair, low_pairs[row]))
        edge_block = np.concatenate((edge_block, block))
        edge_joint = np.concatenate((edge_joint, lj[row]))
        upper = np.concatenate((upper, low_upper[row, block]))
    # Per pair, its edges best bound first. Within a pair the order only guides the search (any
    # order gives the same result), so the faster unstable sort of one key will do.
    order = _pair_major_order(edge_pair, upper)
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
        # With exact heat maxima too, most edges of pairs whose best is still low close here.
        still = _better(edge_bounds(chosen), bounds.first_pixel[edge_block[chosen]],
                        best_value[edge_pair[chosen]], best_index[edge_pair[chosen]])
        chosen, row_of = chosen[still], row_of[still]
        pairs, top, index = _score_edges(bounds, edge_pair[chosen], row_of, block, heat, block_tags, pair_tag)
        better = _better(top, index, best_value[pairs], best_index[pairs])
        best_value[pairs[better]], best_index[pairs[better]] = top[better], index[better]
        batch *= 2


def _score_edges(bounds: BlockBounds, edge_pair: np.ndarray, row_of: np.ndarray, block: np.ndarray,
                 heat: np.ndarray, block_tags: np.ndarray, pair_tag: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each (pair, read block) edge (pair-sorted; its block's row `row_of` in heat (b, block²),
    block_tags (b, block², L) and flat block indices `block`) scores all its block's pixels, densely
    (edges still open here rarely have many pixels that can be ruled out by heat alone). Returns the
    pairs that scored, their best value and the lowest pixel index holding it."""
    if len(edge_pair) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64)
    values = _values(heat[row_of], block_tags[row_of], pair_tag[edge_pair][:, None])
    # First occurrence = lowest pixel index: pixel indices never decrease with the in-block offset.
    at = values.argmax(axis=1)
    top = values[np.arange(len(at)), at]
    pixel = bounds.pixel_at(block[row_of], at)
    starts = np.r_[True, edge_pair[1:] != edge_pair[:-1]]
    segment = np.flatnonzero(starts)
    best = np.maximum.reduceat(top, segment)
    tied = top == best[np.cumsum(starts) - 1]
    return edge_pair[segment], best, np.minimum.reduceat(np.where(tied, pixel, _NO_INDEX), segment)


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
    joint, who = nonzero(~present.T)                   # pairs sorted by joint
    if len(joint) == 0:
        return persons
    # Per person, as the original (np.mean of float32 tags): the same float32 rounding.
    mean_tags = np.stack([tags[np.flatnonzero(row), p[row, 1].astype(np.int32), p[row, 0].astype(np.int32)].mean(axis=0)
                          for p, row in zip(persons, present)])
    best = _refine_argmax(heatmaps, tags, bounds, joint, mean_tags[who])
    w = heatmaps.shape[2]
    y, x = np.divmod(best, w)
    value = heatmaps[joint, y, x]
    found = value > 0
    joint, who, x, y, value = joint[found], who[found], x[found], y[found], value[found]
    dx, dy = quarter_offsets(heatmaps, joint, x, y)
    persons[who, joint, 0] = x + 0.5 + dx
    persons[who, joint, 1] = y + 0.5 + dy
    persons[who, joint, 2] = value
    return persons
