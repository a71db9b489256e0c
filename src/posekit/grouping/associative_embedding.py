"""Associative-embedding grouping, exactly as the published HigherHRNet parse (`lib/core/group.py`):
max-pool NMS, top-k peaks per joint, joint-by-joint Hungarian matching on
round(tag distance)·100 − score, the ±0.25 px adjustment (+0.5), refinement of missing joints and
person score = mean joint score before refinement.

The hot paths are vectorised (NMS/top-k in torch, one assignment per joint, adjustment and
refinement in numpy over all persons at once); the matching semantics (joint order, the first
`max_people` groups as candidates, new groups keyed by their first tag value) are the original's.
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


def top_k_peaks(heatmaps: torch.Tensor, tags: torch.Tensor, k: int, nms_kernel: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """heatmaps (K, H, W), tags (K, H, W, L) -> values (K, k), locations (K, k, 2) as x, y,
    tags (K, k, L) at the k highest max-pool-NMS survivors of each joint."""
    kk, h, w = heatmaps.shape
    pooled = F.max_pool2d(heatmaps[None], nms_kernel, 1, (nms_kernel - 1) // 2)[0]
    suppressed = heatmaps * (pooled == heatmaps).float()
    values, index = suppressed.reshape(kk, -1).topk(k, dim=1)
    flat_tags = tags.reshape(kk, h * w, -1)
    peak_tags = torch.gather(flat_tags, 1, index[..., None].expand(-1, -1, flat_tags.shape[-1]))
    locations = torch.stack((index % w, index // w), dim=-1)
    return values.numpy(), locations.numpy(), peak_tags.numpy()


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
        # Munkres on the matrix padded to square: extra columns cost 1e10 (rows left over start new
        # persons), extra rows cost 0 (every real row is matched). A rectangular assignment is the same.
        rows, cols = linear_sum_assignment(cost)
        assigned = np.full(len(joints), -1)
        assigned[rows] = cols
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


def refine(persons: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Add each person's missing joints at argmax(heatmap − round(‖tag − person mean tag‖)) when the
    heatmap value there is positive. Only missing joints are computed (the others are never used)."""
    persons = persons.copy()
    _, h, w = heatmaps.shape
    flat_heat = heatmaps.reshape(len(heatmaps), -1)
    flat_tags = tags.reshape(len(tags), h * w, -1)
    for person in persons:
        present = np.nonzero(person[:, 2] > 0)[0]
        missing = np.nonzero(person[:, 2] == 0)[0]
        if len(missing) == 0:
            continue
        xs = person[present, 0].astype(np.int32)
        ys = person[present, 1].astype(np.int32)
        mean_tag = tags[present, ys, xs].mean(axis=0)
        for joint in missing:
            distance = ((flat_tags[joint] - mean_tag) ** 2).sum(axis=1) ** 0.5
            best = int(np.argmax(flat_heat[joint] - np.round(distance)))
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
    persons = match_by_tag(*top_k_peaks(heatmaps, tags, params.max_people, params.nms_kernel), params)
    if len(persons) == 0:
        return np.zeros((0, heatmaps.shape[0], 3), np.float32), np.zeros(0, np.float32)
    heat_np = heatmaps.numpy()
    if params.adjust:
        persons = adjust(persons, heat_np)
    scores = persons[:, :, 2].mean(axis=1)
    if params.refine:
        persons = refine(persons, heat_np, tags.numpy())
    return persons[:, :, :3].astype(np.float32), scores.astype(np.float32)
