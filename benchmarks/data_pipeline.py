"""Data-pipeline throughput: posekit's datasets (full augmentation) against a plain loop.

Top-down: LSP train, 256x192 input, RTMPose's augmentation (flip, half-body, scale 0.6-1.4, rotation
+-80, HSV, blur, CoarseDropout), heatmap codec 64x48, sigma 2.
Bottom-up: coco_subset, 512x512 input, HigherHRNet's augmentation (flip, scale 0.75-1.5, rotation +-30,
translation +-40 px), associative-embedding codec (1/4 and 1/2 heatmaps, tag indices) and ignore masks.
Baseline (same sizes): per sample cv2.imread, one cv2.warpAffine of the box (top-down) or of the whole
image fitted to the input (bottom-up), normalisation, and Gaussian targets computed in numpy over the
whole heatmap grid; no augmentation, no masks, no pipeline objects.

Both run through a torch DataLoader (batch 16) with 0 and 2 workers; times include worker start-up.
Each cell alternates baseline and posekit timings (--repeats, best kept), so both see the same machine load.
Usage: python benchmarks/data_pipeline.py [--samples N] [--repeats R] [--data ../shared/data] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from posekit.codecs import build_codec
from posekit.config import AugmentConfig
from posekit.data.datasets import BottomUpDataset, TopDownDataset
from posekit.data.readers import read_coco, read_lsp
from posekit.data.records import PoseData

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255
DEFAULT_DATA = Path(os.environ.get("POSEKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


def gaussian_maps(points: np.ndarray, size: tuple[int, int], stride: float, sigma: float = 2.0) -> np.ndarray:
    """(N, K, 3) points (x, y, v) in input pixels -> (K, h, w) max-combined Gaussians on the full grid."""
    w, h = size
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)[:, None]
    maps = np.zeros((points.shape[1], h, w), np.float32)
    for person in points:
        for k, (x, y, v) in enumerate(person):
            if v > 0:
                g = np.exp(-((xs - x / stride) ** 2 + (ys - y / stride) ** 2) / (2 * sigma ** 2))
                np.maximum(maps[k], g, out=maps[k])
    return maps


def normalise(image_bgr: np.ndarray) -> torch.Tensor:
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    return torch.from_numpy(((rgb - MEAN) / STD).transpose(2, 0, 1).copy())


class BaselineTopDown(Dataset):
    def __init__(self, data: PoseData, input_size=(192, 256)):
        self.items = [(r.file_name, p) for r in data.records for p in r.persons if p.num_keypoints > 0]
        self.input_size = input_size

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, person = self.items[i]
        image = cv2.imread(path)
        w_in, h_in = self.input_size
        x, y, w, h = person.bbox
        w, h = w * 1.25, h * 1.25
        w, h = (w, w * h_in / w_in) if w / h > w_in / h_in else (h * w_in / h_in, h)
        s = w_in / w
        warp = np.array([[s, 0, w_in / 2 - s * (x + person.bbox[2] / 2)],
                         [0, s, h_in / 2 - s * (y + person.bbox[3] / 2)]])
        crop = cv2.warpAffine(image, warp, self.input_size)
        points = person.keypoints.copy()
        points[:, :2] = points[:, :2] @ warp[:, :2].T + warp[:, 2]
        return {"image": normalise(crop), "heatmaps": gaussian_maps(points[None], (w_in // 4, h_in // 4), 4.0)}


class BaselineBottomUp(Dataset):
    def __init__(self, data: PoseData, size=512):
        self.records = [r for r in data.records if any(p.num_keypoints > 0 and not p.iscrowd for p in r.persons)]
        self.size = size

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        record = self.records[i]
        image = cv2.imread(record.file_name)
        s = self.size / max(image.shape[:2])
        warp = np.array([[s, 0, 0], [0, s, 0]])
        resized = cv2.warpAffine(image, warp, (self.size, self.size))
        points = np.array([p.keypoints for p in record.persons if p.num_keypoints > 0 and not p.iscrowd])
        points[..., :2] *= s
        out = {"image": normalise(resized)}
        for j, stride in enumerate((4, 2)):
            out[f"heatmaps_{j}"] = gaussian_maps(points, (self.size // stride, self.size // stride), stride)
        return out


def throughput(dataset: Dataset, samples: int, workers: int) -> float:
    indices = [i % len(dataset) for i in range(samples)]
    loader = DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=16, num_workers=workers)
    start = time.perf_counter()
    count = sum(len(batch["image"]) for batch in loader)
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=128, help="samples per measurement (default 128)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timings per cell, best kept (default 2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = parser.parse_args()
    # The main process only collates here. With torch's default thread pool on a busy machine a tiny
    # op such as torch.ones((256, 256)) took 20 ms instead of 0.03 ms, which would swamp the
    # 0-worker numbers; DataLoader workers run with one thread already.
    torch.set_num_threads(1)
    for sub in ("lsp", "coco_subset"):
        if not (args.data / sub).exists():
            parser.error(f"{args.data / sub} not found (give --data, the folder holding lsp/ and coco_subset/)")

    lsp = read_lsp(args.data / "lsp", "train")
    coco = read_coco(args.data / "coco_subset" / "person_keypoints_merged.json")
    topdown_aug = AugmentConfig(flip=0.5, half_body=0.3, scale=(0.6, 1.4), rotation=80.0, rotation_prob=0.6,
                                hsv=True, blur=0.1, coarse_dropout=1.0)
    bottomup_aug = AugmentConfig(flip=0.5, scale=(0.75, 1.5), rotation=30.0, rotation_prob=1.0, translate=40.0)
    heatmap = build_codec("heatmap", input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    ae = build_codec("associative_embedding", input_size=(512, 512), num_keypoints=17)
    cases = {
        "topdown LSP 256x192": (BaselineTopDown(lsp),
                                TopDownDataset(lsp, (192, 256), heatmap, augment=topdown_aug, train=True)),
        "bottomup COCO 512": (BaselineBottomUp(coco),
                              BottomUpDataset(coco, 512, ae, augment=bottomup_aug, train=True)),
    }
    rows = []
    for name, (baseline, ours) in cases.items():
        for workers in (0, 2):
            base = mine = 0.0
            for _ in range(args.repeats):  # alternate, keep the best of each: load spikes only slow things down
                base = max(base, throughput(baseline, args.samples, workers))
                mine = max(mine, throughput(ours, args.samples, workers))
            rows.append({"pipeline": name, "workers": workers, "baseline_samples_per_s": round(base, 1),
                         "posekit_samples_per_s": round(mine, 1), "ratio": round(mine / base, 2)})

    print(f"data pipeline, {args.samples} samples per cell, best of {args.repeats}, batch 16 ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, cv2 {cv2.__version__})")
    print(f"{'pipeline':<22}{'workers':>8}{'baseline/s':>12}{'posekit/s':>11}{'posekit/baseline':>18}")
    for r in rows:
        print(f"{r['pipeline']:<22}{r['workers']:>8}{r['baseline_samples_per_s']:>12.1f}"
              f"{r['posekit_samples_per_s']:>11.1f}{r['ratio']:>18.2f}")
    if args.json:
        print(json.dumps({"benchmark": "data_pipeline", "samples": args.samples, "repeats": args.repeats,
                          "results": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
