"""Simple Pose greedy keypoint assignment: peaks -> limb candidates -> persons.

The algorithm is the one of the official Simple Pose evaluation (`evaluate.py`): keypoint peaks by
3x3 max-pool NMS with a score-weighted centroid, limb candidates scored by sampling the body-part map
along the segment, greedy one-to-one matching per limb type, then persons assembled limb by limb.
Here peaks and limb scoring are vectorised over all candidates; the assembly keeps the published
sequential semantics (its result depends on the order) but finds the persons that own a keypoint
with one array comparison instead of a loop over persons.

Coordinates are in pixels of the maps handed in (the caller upsamples the network output first, as
the original does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GreedyParams:
    """Thresholds of the greedy assignment; comments give the published `evaluate.py` names."""

    peak_threshold: float = 0.1       # thre1
    peak_radius: int = 2              # offset_radius of the centroid refinement
    limb_threshold: float = 0.1       # thre2
    connect_ratio: float = 0.8        # connect_ration: fraction of samples above limb_threshold
    max_samples: int = 20             # mid_num
    len_rate: float = 16.0            # a new limb may be at most len_rate x the person's longest
    connection_tolerance: float = 0.7 # connection_tole when merging two fragments
    remove_reconnected: bool = False  # remove_recon (0 in the published config)
    min_parts: int = 2
    min_mean_score: float = 0.45


def find_peaks(keypoint_maps: np.ndarray, params: GreedyParams = GreedyParams()) -> list[np.ndarray]:
    """Peaks per keypoint type: a list of (n_k, 4) float64 arrays [x, y, score, global id].

    A peak is a 3x3 local maximum (reflect padding, ties kept) >= threshold. Where the (2r+1)^2 box
    fits in the map, the position is the score-weighted centroid of the box and the score is the box mean, as
    published; at the border the raw position and value are kept.
    """
    heat = np.asarray(keypoint_maps, dtype=np.float32)
    num_k, height, width = heat.shape
    # The 3x3 max-pool NMS is evaluated only where it can matter: rows without a value above the
    # threshold are skipped after one reduction (most of a map is empty), then horizontal maxima
    # (contiguous, cheap), then the full 3x3 test on the few survivors. Neighbours reflect at the
    # border exactly as in a reflect-padded max-pool.
    k_rows, y_rows = np.nonzero(heat.max(axis=2) >= params.peak_threshold)
    rows = np.pad(heat[k_rows, y_rows], ((0, 0), (1, 1)), mode="reflect")
    centre = rows[:, 1:-1]
    row_idx, xs = np.nonzero((centre >= params.peak_threshold) & (centre >= rows[:, :-2]) & (centre >= rows[:, 2:]))
    k_idx, ys = k_rows[row_idx], y_rows[row_idx]
    value = heat[k_idx, ys, xs]
    keep = np.ones(len(value), bool)
    for dy in (-1, 0, 1):
        ny = np.abs(ys + dy)
        ny = np.where(ny >= height, 2 * (height - 1) - ny, ny)
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nx = np.abs(xs + dx)
            nx = np.where(nx >= width, 2 * (width - 1) - nx, nx)
            keep &= heat[k_idx, ny, nx] <= value
    k_idx, ys, xs = k_idx[keep], ys[keep], xs[keep]
    r = params.peak_radius
    px, py = xs.astype(np.float64), ys.astype(np.float64)
    score = heat[k_idx, ys, xs].astype(np.float64)
    inside = (xs - r >= 0) & (ys - r >= 0) & (xs + r < width) & (ys + r < height)
    if inside.any():
        offsets = np.arange(-r, r + 1)
        dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
        ki, yi, xi = k_idx[inside], ys[inside], xs[inside]
        boxes = heat[ki[:, None], yi[:, None] + dy.ravel()[None], xi[:, None] + dx.ravel()[None]].astype(np.float64)
        total = boxes.sum(1)
        px[inside] = xi + (boxes * dx.ravel()).sum(1) / total
        py[inside] = yi + (boxes * dy.ravel()).sum(1) / total
        score[inside] = boxes.mean(1)
    # nonzero is ordered by (type, y, x), so ids run type by type like the original loop
    peaks = np.stack([px, py, score, np.arange(len(xs), dtype=np.float64)], 1)
    bounds = np.searchsorted(k_idx, np.arange(num_k + 1))
    return [peaks[bounds[k]:bounds[k + 1]] for k in range(num_k)]


def score_limbs(peaks: list[np.ndarray], part_maps: np.ndarray, limbs: list[tuple[int, int]],
                image_height: float, params: GreedyParams = GreedyParams()) -> list[np.ndarray]:
    """Greedy one-to-one limb connections per limb type: (m, 6) [idA, idB, score, i, j, length].

    Every candidate pair of every limb type is scored in one vectorised pass; only the greedy
    matching (a few accepted candidates per type) loops."""
    pair_limb, pair_a, pair_b = [], [], []
    for k, (a, b) in enumerate(limbs):
        n_a, n_b = len(peaks[a]), len(peaks[b])
        if n_a and n_b:
            pair_limb.append(np.full(n_a * n_b, k))
            pair_a.append(np.repeat(np.arange(n_a), n_b))
            pair_b.append(np.tile(np.arange(n_b), n_a))
    if not pair_limb:
        return [np.zeros((0, 6)) for _ in limbs]
    limb_of, ia, ib = np.concatenate(pair_limb), np.concatenate(pair_a), np.concatenate(pair_b)
    a_type = np.array([a for a, _ in limbs])[limb_of]
    b_type = np.array([b for _, b in limbs])[limb_of]
    offsets = np.cumsum([0] + [len(p) for p in peaks])
    candidates = np.concatenate(peaks)
    pa, pb = candidates[offsets[a_type] + ia], candidates[offsets[b_type] + ib]
    start, end = pa[:, :2], pb[:, :2]
    vec = end - start
    norm = np.sqrt(vec[:, 0] * vec[:, 0] + vec[:, 1] * vec[:, 1])
    num = np.minimum(np.round(norm + 1), params.max_samples).astype(np.int64)
    samples_idx = np.arange(params.max_samples)
    valid = samples_idx[None] < num[:, None]
    # the same arithmetic as np.linspace (start + i * step, last point exactly the end)
    step = vec / np.maximum(num - 1, 1)[:, None]
    last = (samples_idx[None] == (num - 1)[:, None]) & (num > 1)[:, None]
    coords = []
    for d in (0, 1):
        c = np.where(last, end[:, d:d + 1], start[:, d:d + 1] + samples_idx[None] * step[:, d:d + 1])
        coords.append(np.where(valid, np.round(c).astype(np.int64), 0))
    response = np.where(valid, part_maps[limb_of[:, None], coords[1], coords[0]].astype(np.float64), 0.0)
    with np.errstate(divide="ignore"):
        prior = np.minimum(0.5 * image_height / norm - 1, 0)
    score = response.sum(1) / num + prior
    above = ((response > params.limb_threshold) & valid).sum(1)
    ok = (norm > 0) & (above >= params.connect_ratio * num) & (score > 0)
    rank = 0.5 * score + 0.25 * pa[:, 2] + 0.25 * pb[:, 2]
    accepted = np.flatnonzero(ok)
    # by limb type, then by rank (descending, ties in pair order as a stable sort)
    accepted = accepted[np.lexsort((-rank[accepted], limb_of[accepted]))]
    bounds = np.searchsorted(limb_of[accepted], np.arange(len(limbs) + 1))
    connections = []
    for k, (a, b) in enumerate(limbs):
        n_a, n_b = len(peaks[a]), len(peaks[b])
        used_a, used_b = np.zeros(n_a, bool), np.zeros(n_b, bool)
        rows = []
        for c in accepted[bounds[k]:bounds[k + 1]]:
            i, j = ia[c], ib[c]
            if used_a[i] or used_b[j]:
                continue
            used_a[i] = used_b[j] = True
            rows.append((pa[c, 3], pb[c, 3], score[c], i, j, norm[c]))
            if len(rows) >= min(n_a, n_b):
                break
        connections.append(np.array(rows, dtype=np.float64).reshape(-1, 6))
    return connections


class _Persons:
    """Growing person table: keypoint ids (-1 = none), the limb score that attached each keypoint,
    total score, part count and the longest limb so far (the len_rate prior)."""

    def __init__(self, num_keypoints: int):
        self.ids = np.zeros((0, num_keypoints), np.int64)
        self.link = np.zeros((0, num_keypoints))
        self.total = np.zeros(0)
        self.count = np.zeros(0)
        self.longest = np.zeros(0)

    def add(self, a: int, b: int, id_a: int, id_b: int, score: float, total: float, length: float) -> None:
        ids = np.full((1, self.ids.shape[1]), -1, np.int64)
        link = np.full((1, self.ids.shape[1]), -1.0)
        ids[0, a], ids[0, b] = id_a, id_b
        link[0, a] = link[0, b] = score
        self.ids = np.concatenate([self.ids, ids])
        self.link = np.concatenate([self.link, link])
        self.total = np.append(self.total, total)
        self.count = np.append(self.count, 2.0)
        self.longest = np.append(self.longest, length)

    def delete(self, rows: np.ndarray | int) -> None:
        for name in ("ids", "link", "total", "count", "longest"):
            setattr(self, name, np.delete(getattr(self, name), rows, axis=0))


def assemble(connections: list[np.ndarray], peaks: list[np.ndarray], limbs: list[tuple[int, int]],
             params: GreedyParams = GreedyParams()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assemble persons limb by limb. Returns (ids (P, K) int, -1 = missing; total score (P,);
    part count (P,)), after dropping persons with too few parts or a low mean score."""
    num_k = len(peaks)
    cand_score = np.concatenate([p[:, 2] for p in peaks]) if num_k else np.zeros(0)
    persons = _Persons(num_k)
    for k, (a, b) in enumerate(limbs):
        for id_a, id_b, s, _, _, length in connections[k]:
            id_a, id_b = int(id_a), int(id_b)
            found = np.flatnonzero((persons.ids[:, a] == id_a) | (persons.ids[:, b] == id_b))[:2]
            if len(found) == 1:
                j = found[0]
                cur = persons.ids[j, b]
                too_long = params.len_rate * persons.longest[j] <= length
                if cur == -1 and not too_long:
                    persons.ids[j, b], persons.link[j, b] = id_b, s
                    persons.count[j] += 1
                    persons.total[j] += cand_score[id_b] + s
                    persons.longest[j] = max(length, persons.longest[j])
                elif cur != -1 and (cur != id_b and persons.link[j, b] < s and not too_long
                                    or cur == id_b and persons.link[j, b] <= s):
                    # a better limb replaces the keypoint (or re-scores the same one)
                    persons.total[j] += cand_score[id_b] + s - cand_score[cur] - persons.link[j, b]
                    persons.ids[j, b], persons.link[j, b] = id_b, s
                    persons.longest[j] = max(length, persons.longest[j])
            elif len(found) == 2:
                j1, j2 = found
                in1, in2 = persons.ids[j1] >= 0, persons.ids[j2] >= 0
                if not (in1 & in2).any():
                    weakest = min(persons.link[j1][in1].min(), persons.link[j2][in2].min())
                    if s < params.connection_tolerance * weakest or \
                            params.len_rate * persons.longest[j1] <= length:
                        continue
                    persons.ids[j1] += persons.ids[j2] + 1
                    persons.link[j1] += persons.link[j2] + 1
                    persons.count[j1] += persons.count[j2]
                    persons.total[j1] += persons.total[j2] + s
                    persons.longest[j1] = max(length, persons.longest[j1])
                    persons.delete(j2)
                else:
                    # two persons compete for this limb: the weaker owner may lose its keypoint
                    first, second = (id_a, id_b) if id_a in persons.ids[j1] else (id_b, id_a)
                    h1, h2 = np.flatnonzero(persons.ids[j1] == first), np.flatnonzero(persons.ids[j2] == second)
                    if len(h1) == 0 or len(h2) == 0:
                        continue
                    c1, c2 = int(h1[0]), int(h2[0])
                    if s < persons.link[j1, c1] and s < persons.link[j2, c2]:
                        continue
                    small, c = (j2, c2) if persons.link[j1, c1] > persons.link[j2, c2] else (j1, c1)
                    if params.remove_reconnected:
                        persons.total[small] -= cand_score[persons.ids[small, c]] + persons.link[small, c]
                        persons.ids[small, c] = -1
                        persons.link[small, c] = -1
                        persons.count[small] -= 1
            else:
                persons.add(a, b, id_a, id_b, s, cand_score[id_a] + cand_score[id_b] + s, length)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = (persons.count < params.min_parts) | (persons.total / persons.count < params.min_mean_score)
    persons.delete(np.flatnonzero(drop))
    return persons.ids, persons.total, persons.count


def group_parts(keypoint_maps: np.ndarray, part_maps: np.ndarray, limbs: list[tuple[int, int]],
                params: GreedyParams = GreedyParams()) -> tuple[np.ndarray, np.ndarray]:
    """Full assignment on one image's maps (K, H, W) and (L, H, W).

    Returns poses (P, K, 3) [x, y, keypoint score] (zeros where missing) and person scores (P,)
    = 1 - 1 / total, the published person score.
    """
    peaks = find_peaks(keypoint_maps, params)
    connections = score_limbs(peaks, part_maps, limbs, keypoint_maps.shape[1], params)
    ids, total, _ = assemble(connections, peaks, limbs, params)
    candidates = np.concatenate(peaks) if peaks else np.zeros((0, 4))
    poses = np.zeros((len(ids), keypoint_maps.shape[0], 3))
    have = ids >= 0
    poses[have] = candidates[ids[have], :3]
    return poses, 1.0 - 1.0 / total
