"""Heatmap codec round trip on real keypoints: encode, decode, and measure the error each
encoding/refinement pair leaves, side by side, with decode throughput.

Every person of LSP (2,000) and coco_subset (persons with keypoints) is cropped to the input
(bbox padded by 1.25, scaled into width x height; LSP's bbox is its visible keypoints' extent).
Errors are over visible keypoints inside the input, in input pixels; "interior" keeps those at
least 2 sigma (heatmap pixels) from the heatmap border, where DARK's zero-padded blur is unbiased.

    .venv/bin/python benchmarks/codec_roundtrip.py [--data ../shared/data] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.io

from posekit.codecs import build_codec

VARIANTS = [(mode, refine) for mode in ("msra", "udp") for refine in ("none", "shift", "dark")]
DEFAULT_DATA = Path(os.environ.get("POSEKIT_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def crop_to_input(keypoints: np.ndarray, bbox: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    x, y, w, h = bbox
    pw, ph = w * 1.25, h * 1.25
    origin = np.array([x + w / 2 - pw / 2, y + h / 2 - ph / 2])
    return (keypoints - origin) / [pw, ph] * size


def load_people(data: Path, size: tuple[int, int]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(dataset name, keypoints (N, K, 2) in input px, visible (N, K)) per dataset."""
    mat = data / "lsp" / "joints.mat"
    joints = np.transpose(scipy.io.loadmat(mat)["joints"], (2, 1, 0))  # (2000, 14, 3)
    lsp_visible = joints[..., 2] == 0  # LSP flag: 0 means visible
    lsp = []
    for person, visible in zip(joints, lsp_visible):
        if visible.sum() < 2:
            raise ValueError(f"{mat}: a person with fewer than 2 visible joints has no extent")
        lo, hi = person[visible, :2].min(0), person[visible, :2].max(0)
        lsp.append(crop_to_input(person[:, :2], np.r_[lo, hi - lo], size))
    coco_file = data / "coco_subset" / "person_keypoints_merged.json"
    annotations = [a for a in json.loads(coco_file.read_text())["annotations"]
                   if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]
    coco = np.array([a["keypoints"] for a in annotations], dtype=np.float64).reshape(-1, 17, 3)
    coco_crops = [crop_to_input(k[:, :2], np.asarray(a["bbox"], dtype=np.float64), size)
                  for k, a in zip(coco, annotations)]
    return [("lsp", np.stack(lsp), lsp_visible), ("coco_subset", np.stack(coco_crops), coco[..., 2] > 0)]


def measure(codec, people, repeats: int) -> dict[str, float]:
    errors, interior_errors, decode_s, keypoints_decoded = [], [], 0.0, 0
    for _, keypoints, visible in people:
        maps = np.stack([codec.encode(k, v)["heatmaps"] for k, v in zip(keypoints, visible)])
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            decoded, _ = codec.decode(maps)
            times.append(time.perf_counter() - start)
        decode_s += min(times)  # least-disturbed run on a shared machine
        keypoints_decoded += maps.shape[0] * maps.shape[1]
        w, h = codec.input_size
        inside = visible & (keypoints[..., 0] >= 0) & (keypoints[..., 0] <= w - 1) \
            & (keypoints[..., 1] >= 0) & (keypoints[..., 1] <= h - 1)
        heat = keypoints / codec.stride
        hw, hh = codec.heatmap_size
        border = np.minimum.reduce([heat[..., 0], heat[..., 1], hw - 1 - heat[..., 0],
                                    hh - 1 - heat[..., 1]])
        error = np.linalg.norm(decoded - keypoints, axis=-1)
        errors.append(error[inside])
        interior_errors.append(error[inside & (border >= 2 * codec.sigma)])
    error, interior = np.concatenate(errors), np.concatenate(interior_errors)
    return {"keypoints": int(error.size), "mean_px": float(error.mean()),
            "p95_px": float(np.percentile(error, 95)), "max_px": float(error.max()),
            "interior_max_px": float(interior.max()),
            "decode_kps_per_s": keypoints_decoded / decode_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "data",
                        help="folder holding lsp/ and coco_subset/")
    parser.add_argument("--repeats", type=int, default=3, help="decode timings; the fastest counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    input_size, heatmap_size, sigma = (192, 256), (48, 64), 2.0
    people = load_people(args.data, input_size)
    results = {}
    for mode, refine in VARIANTS:
        codec = build_codec("heatmap", input_size=input_size, heatmap_size=heatmap_size,
                            sigma=sigma, mode=mode, refine=refine)
        results[f"{mode}+{refine}"] = measure(codec, people, args.repeats)

    persons = sum(len(k) for _, k, _ in people)
    print(f"heatmap codec round trip: 256x192 -> 64x48, sigma {sigma}, {persons} persons "
          f"(LSP + coco_subset); errors in input px over visible keypoints inside the input")
    print(f"{'variant':<12}{'keypoints':>10}{'mean':>9}{'p95':>9}{'max':>9}{'int. max':>10}"
          f"{'decode kp/s':>13}")
    for name, r in results.items():
        print(f"{name:<12}{r['keypoints']:>10}{r['mean_px']:>9.4f}{r['p95_px']:>9.4f}"
              f"{r['max_px']:>9.4f}{r['interior_max_px']:>10.4f}{r['decode_kps_per_s']:>13,.0f}")
    if args.json:
        print(json.dumps({"benchmark": "codec_roundtrip", "input_size": input_size,
                          "heatmap_size": heatmap_size, "sigma": sigma, "persons": persons,
                          "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
                          "date": time.strftime("%Y-%m-%d"), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
