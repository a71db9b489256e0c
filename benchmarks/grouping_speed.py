"""Associative-embedding decode speed: posekit's vectorised parse vs a straightforward per-joint
Python implementation of the same published algorithm (written below), on the real multi-person
images of ../shared/data/coco_subset, one CPU thread.

Each image's ideal outputs (the codec's `ideal_outputs` of its ground truth at 512 input, short
side) and a noisy version (Gaussian noise sigma 0.05 on heatmaps, 0.15 on tags) are merged and
projected to input size as at test time, then decoded by both implementations; the outputs must be
identical. posekit's parse also gets the half-resolution heatmaps and quarter-resolution tags the
projected maps come from (for its pruning bounds), as `decode` passes them. Prints a table and
one JSON line.

    python benchmarks/grouping_speed.py [--images N] [--input 512] [--repeat 3] [--phases]

`--phases` also prints where posekit's time goes per image (bounds, top-k, matching, adjustment,
refinement), each phase timed on its own over the same inputs (fastest of --repeat passes).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from posekit.codecs import build_codec
from posekit.codecs.associative_embedding import project
from posekit.data.readers.coco import read_coco
from posekit.data.transforms.preprocess import short_side_resize
from posekit.grouping import associative_embedding as ae
from posekit.grouping.associative_embedding import GroupingParams, parse

DATA = Path(os.environ.get("POSEKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


def baseline_parse(heatmaps: torch.Tensor, tags: torch.Tensor, params: GroupingParams) -> tuple[np.ndarray, np.ndarray]:
    """The published parse written plainly: loops over joints, peaks and persons; Munkres-style
    square padding; refinement computed on full maps for every joint of every person."""
    if tags.dim() == 3:
        tags = tags[..., None]
    num_k, h, w = heatmaps.shape
    pooled = torch.nn.functional.max_pool2d(heatmaps[None], params.nms_kernel, 1, params.nms_kernel // 2)[0]
    det = heatmaps * (pooled == heatmaps).float()
    det = det.reshape(num_k, -1)
    kth = det.topk(params.max_people, dim=1).values[:, -1].numpy()
    tag_flat = tags.reshape(num_k, h * w, -1).numpy()
    val_k = np.zeros((num_k, params.max_people), np.float32)
    loc_k = np.zeros((num_k, params.max_people, 2), np.int64)
    tag_k = np.zeros((num_k, params.max_people, tag_flat.shape[2]), np.float32)
    for k in range(num_k):
        # topk, with ties ordered by flat index; rows not above the detection threshold are dropped below anyway
        values = det[k].numpy()
        chosen = np.flatnonzero((values >= kth[k]) & (values > params.detection_threshold))
        chosen = chosen[np.lexsort((chosen, -values[chosen]))][:params.max_people]
        val_k[k, :len(chosen)] = values[chosen]
        loc_k[k, :len(chosen)] = np.stack((chosen % w, chosen // w), axis=1)
        tag_k[k, :len(chosen)] = tag_flat[k, chosen]

    default = np.zeros((num_k, 3 + tag_k.shape[2]))
    joint_dict: dict = {}
    tag_dict: dict = {}
    for i, idx in enumerate(params.order):
        joints = np.concatenate((loc_k[idx], val_k[idx, :, None], tag_k[idx]), 1)
        mask = joints[:, 2] > params.detection_threshold
        peak_tags, joints = tag_k[idx][mask], joints[mask]
        if joints.shape[0] == 0:
            continue
        if i == 0 or len(joint_dict) == 0:
            for tag, joint in zip(peak_tags, joints):
                joint_dict.setdefault(tag[0], np.copy(default))[idx] = joint
                tag_dict[tag[0]] = [tag]
            continue
        grouped_keys = list(joint_dict.keys())[:params.max_people]
        grouped_tags = [np.mean(tag_dict[key], axis=0) for key in grouped_keys]
        diff = np.linalg.norm(joints[:, None, 3:] - np.array(grouped_tags)[None], ord=2, axis=2)
        cost = np.round(diff) * 100 - joints[:, 2:3]
        num_added, num_grouped = diff.shape
        size = max(num_added, num_grouped)
        square = np.zeros((size, size))             # Munkres pads extra rows with 0 ...
        square[:, num_grouped:] = 1e10               # ... and extra columns (new persons) with 1e10
        square[:num_added, :num_grouped] = cost
        rows, cols = linear_sum_assignment(square)
        for row, col in zip(rows, cols):
            if row >= num_added:
                continue
            if col < num_grouped and diff[row][col] < params.tag_threshold:
                key = grouped_keys[col]
                joint_dict[key][idx] = joints[row]
                tag_dict[key].append(peak_tags[row])
            else:
                key = peak_tags[row][0]
                joint_dict.setdefault(key, np.copy(default))[idx] = joints[row]
                tag_dict[key] = [peak_tags[row]]
    persons = np.array([joint_dict[key] for key in joint_dict]).astype(np.float32)
    if len(persons) == 0:
        return np.zeros((0, num_k, 3), np.float32), np.zeros(0, np.float32)

    det_np, tag_np = heatmaps.numpy(), tags.numpy()
    for person in persons:
        for joint_id, joint in enumerate(person):
            if joint[2] > 0:
                x, y = joint[0:2]
                xx, yy = int(x), int(y)
                tmp = det_np[joint_id]
                x += 0.25 if tmp[yy, min(xx + 1, w - 1)] > tmp[yy, max(xx - 1, 0)] else -0.25
                y += 0.25 if tmp[min(yy + 1, h - 1), xx] > tmp[max(0, yy - 1), xx] else -0.25
                person[joint_id, 0:2] = (x + 0.5, y + 0.5)
    scores = np.array([p[:, 2].mean() for p in persons], np.float32)
    for person in persons:
        mean_tag = np.mean([tag_np[k, int(person[k, 1]), int(person[k, 0])] for k in range(num_k) if person[k, 2] > 0],
                           axis=0)
        found = []
        for k in range(num_k):
            tmp = det_np[k]
            distance = ((tag_np[k] - mean_tag[None, None, :]) ** 2).sum(axis=2) ** 0.5
            y, x = np.unravel_index(np.argmax(tmp - np.round(distance)), tmp.shape)
            value = tmp[y, x]
            fx = x + 0.5 + (0.25 if tmp[y, min(x + 1, w - 1)] > tmp[y, max(x - 1, 0)] else -0.25)
            fy = y + 0.5 + (0.25 if tmp[min(y + 1, h - 1), x] > tmp[max(0, y - 1), x] else -0.25)
            found.append((fx, fy, value))
        for k in range(num_k):
            if found[k][2] > 0 and person[k, 2] == 0:
                person[k, :3] = found[k]
    return persons[:, :, :3].astype(np.float32), scores


def make_inputs(num_images: int, input_size: int, seed: int = 0) -> dict[str, list]:
    data = read_coco(DATA / "coco_subset" / "person_keypoints_merged.json")
    rng = np.random.default_rng(seed)
    records = [r for r in data.records if any(not p.iscrowd and p.num_keypoints > 0 for p in r.persons)][:num_images]
    inputs: dict[str, list] = {"ideal": [], "noisy": []}
    for record in records:
        warp, size = short_side_resize(record.width, record.height, input_size)
        codec = build_codec("associative_embedding", input_size=size)
        persons = [p for p in record.persons if not p.iscrowd and p.num_keypoints > 0]
        points = np.stack([p.keypoints[:, :2] for p in persons]) @ warp[:, :2].T + warp[:, 2]
        outputs = codec.ideal_outputs(points, np.stack([p.keypoints[:, 2] > 0 for p in persons]))
        noisy = [o.clone() for o in outputs]
        k = codec.num_keypoints
        noisy[0][:, :k] += torch.from_numpy(rng.normal(0, 0.05, noisy[0][:, :k].shape).astype(np.float32))
        noisy[0][:, k:] += torch.from_numpy(rng.normal(0, 0.15, noisy[0][:, k:].shape).astype(np.float32))
        noisy[1] += torch.from_numpy(rng.normal(0, 0.05, noisy[1].shape).astype(np.float32))
        for name, raw in (("ideal", outputs), ("noisy", noisy)):
            coarse_heatmaps, coarse_tags = codec.merge_outputs(raw)
            heatmaps, tags = project(coarse_heatmaps, coarse_tags, size)
            sources = (coarse_heatmaps[0], codec.quarter_tags(raw)[0])
            inputs[name].append((codec.grouping, heatmaps[0], tags[0], sources))
    return inputs


def run(fn, items, with_coarse: bool) -> tuple[float, list]:
    """Times fn over the items. Both sides get the projected maps; posekit also gets the
    half-resolution heatmaps and quarter-resolution tags they were upsampled from (the network's
    outputs, available before projection at test time)."""
    start = time.perf_counter()
    if with_coarse:
        results = [fn(heatmaps, tags, params, coarse) for params, heatmaps, tags, coarse in items]
    else:
        results = [fn(heatmaps, tags, params) for params, heatmaps, tags, _ in items]
    return time.perf_counter() - start, results


def phase_times(items, repeat: int) -> dict[str, float]:
    """Milliseconds per image of each step of `parse` (the steps it runs, called one by one)."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        spent = dict.fromkeys(("bounds", "top-k", "matching", "adjustment", "refinement"), 0.0)
        for params, heatmaps, tags, (coarse_heat, coarse_tags) in items:
            tags = tags[..., None] if tags.dim() == 3 else tags
            coarse_tags = coarse_tags[..., None] if coarse_tags.dim() == 3 else coarse_tags
            heat_np, tags_np = heatmaps.numpy(), tags.numpy()
            start = time.perf_counter()
            bounds = ae.BlockBounds.from_coarse(coarse_heat.numpy(), coarse_tags.numpy(), heat_np.shape[1:])
            step = time.perf_counter()
            spent["bounds"] += step - start
            peaks = ae.top_k_peaks(heat_np, tags_np, params.max_people, params.nms_kernel,
                                   params.detection_threshold, bounds)
            start, step = step, time.perf_counter()
            spent["top-k"] += step - start
            persons = ae.match_by_tag(*peaks, params)
            start, step = step, time.perf_counter()
            spent["matching"] += step - start
            if len(persons):
                persons = ae.adjust(persons, heat_np)
                start, step = step, time.perf_counter()
                spent["adjustment"] += step - start
                ae.refine(persons, heat_np, tags_np, bounds)
                start, step = step, time.perf_counter()
                spent["refinement"] += step - start
        for name, seconds in spent.items():
            best[name] = min(best.get(name, float("inf")), seconds / len(items) * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--input", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each implementation this many times, alternating, and keep the fastest "
                             "(the least disturbed by other load on the machine)")
    parser.add_argument("--phases", action="store_true", help="also print posekit's time per step of the parse")
    args = parser.parse_args()
    torch.set_num_threads(1)
    inputs = make_inputs(args.images, args.input)
    report = {"machine": platform.processor() or platform.machine(), "threads": 1, "images": args.images,
              "input": args.input, "repeat": args.repeat, "load_average": os.getloadavg()[0]}
    print(f"{'heatmaps':<8} {'posekit img/s':>14} {'baseline img/s':>15} {'speedup':>8} {'identical':>10}")
    for name, items in inputs.items():
        fast_s, base_s = float("inf"), float("inf")
        for _ in range(args.repeat):
            seconds, fast = run(parse, items, with_coarse=True)
            fast_s = min(fast_s, seconds)
            seconds, base = run(baseline_parse, items, with_coarse=False)
            base_s = min(base_s, seconds)
        identical = all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(fast, base))
        row = {"posekit_images_per_s": len(items) / fast_s, "baseline_images_per_s": len(items) / base_s,
               "speedup": base_s / fast_s, "identical": identical,
               "persons": int(sum(len(a[0]) for a in fast))}
        report[name] = row
        print(f"{name:<8} {row['posekit_images_per_s']:>14.1f} {row['baseline_images_per_s']:>15.2f} "
              f"{row['speedup']:>7.1f}x {str(identical):>10}")
        assert identical, f"{name}: posekit and baseline outputs differ"
        if args.phases:
            row["phases_ms_per_image"] = phases = phase_times(items, args.repeat)
            print(f"{'':<8} ms/image: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
