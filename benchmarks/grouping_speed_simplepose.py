"""Simple Pose greedy assignment speed: posekit's vectorised grouping vs a straightforward Python
implementation of the same published algorithm (written below: loops over peaks, candidate pairs,
connections and persons, as the official evaluate.py), on the real multi-person images of
../shared/data/coco_subset, one CPU thread.

Each image's ideal outputs (the codec's `ideal_outputs` of its ground truth at 512 input, short
side) and a noisy version (Gaussian noise sigma 0.03 on every map: a few spurious peaks per map) are upsampled to the input size
as at test time; both implementations group the same maps (the time measured is the grouping, as
the original's 5.2 FPS figure) and their outputs must agree (same persons, same ids; coordinates
and scores to 1e-9). Prints a table and one JSON line.

    python benchmarks/grouping_speed_simplepose.py [--images N] [--input 512]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from posekit.codecs import build_codec
from posekit.data.readers.coco import read_coco
from posekit.data.transforms.preprocess import short_side_resize
from posekit.grouping.greedy_parts import GreedyParams, group_parts

DATA = Path(os.environ.get("POSEKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


def baseline_group(kmaps: np.ndarray, pmaps: np.ndarray, limbs: list[tuple[int, int]],
                   p: GreedyParams) -> tuple[np.ndarray, np.ndarray]:
    """The published algorithm written plainly (per-peak, per-pair, per-person Python loops)."""
    num_k, height, width = kmaps.shape
    t = torch.from_numpy(np.ascontiguousarray(kmaps))[None]
    pooled = F.max_pool2d(F.pad(t, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    keep = ((pooled == t) & (t >= p.peak_threshold))[0].numpy()
    r = p.peak_radius
    all_peaks, counter = [], 0
    for k in range(num_k):
        ys, xs = np.nonzero(keep[k])
        peaks = []
        for x, y in zip(xs.tolist(), ys.tolist()):
            if y - r < 0 or x - r < 0 or y + r + 1 > height or x + r + 1 > width:
                peaks.append((float(x), float(y), float(kmaps[k, y, x]), counter))
            else:
                box = kmaps[k, y - r:y + r + 1, x - r:x + r + 1].astype(np.float64)
                sx = sy = total = 0.0
                for dy in range(-r, r + 1):
                    for dx in range(-r, r + 1):
                        v = box[dy + r, dx + r]
                        sx += v * dx
                        sy += v * dy
                        total += v
                peaks.append((x + sx / total, y + sy / total, total / box.size, counter))
            counter += 1
        all_peaks.append(peaks)

    connection_all = []
    for k, (a, b) in enumerate(limbs):
        cand_a, cand_b = all_peaks[a], all_peaks[b]
        candidates = []
        for i, pa in enumerate(cand_a):
            for j, pb in enumerate(cand_b):
                vx, vy = pb[0] - pa[0], pb[1] - pa[1]
                norm = math.sqrt(vx * vx + vy * vy)
                if norm == 0:
                    continue
                num = min(int(round(norm + 1)), p.max_samples)
                xs = np.linspace(pa[0], pb[0], num=num)
                ys = np.linspace(pa[1], pb[1], num=num)
                samples = [float(pmaps[k, int(round(y)), int(round(x))]) for x, y in zip(xs, ys)]
                score = sum(samples) / len(samples) + min(0.5 * height / norm - 1, 0)
                above = sum(1 for s in samples if s > p.limb_threshold)
                if above >= p.connect_ratio * len(samples) and score > 0:
                    candidates.append((i, j, score, norm, 0.5 * score + 0.25 * pa[2] + 0.25 * pb[2]))
        candidates.sort(key=lambda c: c[4], reverse=True)
        conn, used_a, used_b = [], set(), set()
        for i, j, score, norm, _ in candidates:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            conn.append((cand_a[i][3], cand_b[j][3], score, norm))
            if len(conn) >= min(len(cand_a), len(cand_b)):
                break
        connection_all.append(conn)

    cand_score = [pk[2] for peaks in all_peaks for pk in peaks]
    persons: list[dict] = []   # ids, link scores, total, count, longest limb
    for k, (a, b) in enumerate(limbs):
        for id_a, id_b, s, length in connection_all[k]:
            found = [j for j, person in enumerate(persons) if person["ids"][a] == id_a or person["ids"][b] == id_b][:2]
            if len(found) == 1:
                q = persons[found[0]]
                too_long = p.len_rate * q["longest"] <= length
                if q["ids"][b] == -1 and not too_long:
                    q["ids"][b], q["link"][b] = id_b, s
                    q["count"] += 1
                    q["total"] += cand_score[id_b] + s
                    q["longest"] = max(length, q["longest"])
                elif q["ids"][b] != id_b and q["ids"][b] != -1:
                    if q["link"][b] >= s or too_long:
                        continue
                    q["total"] += cand_score[id_b] + s - cand_score[q["ids"][b]] - q["link"][b]
                    q["ids"][b], q["link"][b] = id_b, s
                    q["longest"] = max(length, q["longest"])
                elif q["ids"][b] == id_b and q["link"][b] <= s:
                    q["total"] += s - q["link"][b]
                    q["link"][b] = s
                    q["longest"] = max(length, q["longest"])
            elif len(found) == 2:
                q1, q2 = persons[found[0]], persons[found[1]]
                shared = any(x >= 0 and y >= 0 for x, y in zip(q1["ids"], q2["ids"]))
                if not shared:
                    weakest = min(min(l for x, l in zip(q["ids"], q["link"]) if x >= 0) for q in (q1, q2))
                    if s < p.connection_tolerance * weakest or p.len_rate * q1["longest"] <= length:
                        continue
                    q1["ids"] = [x + y + 1 for x, y in zip(q1["ids"], q2["ids"])]
                    q1["link"] = [x + y + 1 for x, y in zip(q1["link"], q2["link"])]
                    q1["count"] += q2["count"]
                    q1["total"] += q2["total"] + s
                    q1["longest"] = max(length, q1["longest"])
                    del persons[found[1]]
                elif p.remove_reconnected:
                    raise NotImplementedError("the benchmark runs the published default remove_recon = 0")
            else:
                ids, link = [-1] * num_k, [-1.0] * num_k
                ids[a], ids[b] = int(id_a), int(id_b)
                link[a] = link[b] = s
                persons.append({"ids": ids, "link": link, "count": 2,
                                "total": cand_score[int(id_a)] + cand_score[int(id_b)] + s, "longest": length})
    persons = [q for q in persons if q["count"] >= p.min_parts and q["total"] / q["count"] >= p.min_mean_score]
    candidates = [pk for peaks in all_peaks for pk in peaks]
    poses = np.zeros((len(persons), num_k, 3))
    for n, q in enumerate(persons):
        for k, i in enumerate(q["ids"]):
            if i >= 0:
                poses[n, k] = candidates[i][:3]
    return poses, np.array([1.0 - 1.0 / q["total"] for q in persons])


def make_inputs(num_images: int, input_size: int) -> dict[str, list]:
    data = read_coco(DATA / "coco_subset" / "person_keypoints_merged.json")
    records = [r for r in data.records if any(not p.iscrowd and p.num_keypoints > 0 for p in r.persons)]
    rng = np.random.default_rng(0)
    inputs: dict[str, list] = {"ideal": [], "noisy": []}
    for record in records[:num_images]:
        warp, size = short_side_resize(record.width, record.height, input_size)
        codec = build_codec("simplepose", input_size=size)
        persons = [p for p in record.persons if not p.iscrowd and p.num_keypoints > 0]
        points = np.stack([p.keypoints[:, :2] for p in persons]).astype(np.float64) @ warp[:, :2].T + warp[:, 2]
        visible = np.stack([p.keypoints[:, 2] > 0 for p in persons])
        ideal = codec.ideal_outputs(points, visible)[0]  # the batch of one's maps (C, h, w)
        noisy = np.clip(ideal + rng.normal(0, 0.03, ideal.shape).astype(np.float32), 0, 1)
        for name, maps in (("ideal", ideal), ("noisy", noisy)):
            up = codec.upsample(maps)
            inputs[name].append((up[codec.num_limbs:codec.num_limbs + codec.num_parts], up[:codec.num_limbs],
                                 list(codec.layout.limbs)))
    return inputs


def run(fn, items, params: GreedyParams) -> tuple[float, float, list]:
    """Wall seconds, CPU seconds of this (single-threaded) process, outputs. On a shared machine the
    CPU time is the steadier figure; both are reported."""
    wall, cpu = time.perf_counter(), time.process_time()
    outs = [fn(k, p, limbs, params) for k, p, limbs in items]
    return time.perf_counter() - wall, time.process_time() - cpu, outs


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return a[0].shape == b[0].shape and np.allclose(a[0], b[0], rtol=0, atol=1e-9) and \
        np.allclose(a[1], b[1], rtol=0, atol=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--input", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    params = GreedyParams()
    inputs = make_inputs(args.images, args.input)
    report = {"machine": platform.processor() or platform.machine(), "threads": 1, "images": args.images,
              "input": args.input}
    print(f"{'maps':<6} {'posekit img/s':>14} {'(cpu)':>7} {'baseline img/s':>15} {'(cpu)':>7} {'speedup':>8} "
          f"{'identical':>10} {'persons':>8}")
    for name, items in inputs.items():
        run(group_parts, items[:2], params)   # warm-up
        fast_s, fast_cpu, fast = run(group_parts, items, params)
        base_s, base_cpu, base = run(baseline_group, items, params)
        identical = all(same(a, b) for a, b in zip(fast, base))
        n = len(items)
        row = {"posekit_images_per_s": n / fast_s, "posekit_images_per_cpu_s": n / fast_cpu,
               "baseline_images_per_s": n / base_s, "baseline_images_per_cpu_s": n / base_cpu,
               "speedup": base_s / fast_s, "speedup_cpu": base_cpu / fast_cpu, "identical": identical,
               "persons": int(sum(len(a[0]) for a in fast))}
        report[name] = row
        print(f"{name:<6} {n / fast_s:>14.1f} {n / fast_cpu:>7.1f} {n / base_s:>15.2f} {n / base_cpu:>7.2f} "
              f"{row['speedup']:>7.1f}x {str(identical):>10} {row['persons']:>8}")
        assert identical, f"{name}: posekit and baseline outputs differ"
    print(json.dumps(report))


if __name__ == "__main__":
    main()
