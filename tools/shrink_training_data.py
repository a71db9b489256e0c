"""A smaller copy of a COCO-format training set, for a machine the full images cannot be sent to.

    .venv/bin/python tools/shrink_training_data.py runs/default_model/data/train_coco_lsp3.json \
        --images ../shared/data --out gpudata

Each image is scaled down (INTER_AREA) so that the largest joint box of its persons is at most
--joint-side pixels and its longer side at most --max-side, and stored as WebP; keypoints, boxes, widths
and heights in the JSON are scaled with it. Why the joint box: a training crop shows the joint box
padded by 1.25 at scale 0.7-1.4 in a 128-pixel input, so a joint box of about 100 pixels is what an
unzoomed crop needs, while a user's whole photo letterboxed into 128 pixels shows an LSP person at about
100 pixels and an LSPET person at about 50. Used for the default model's stage 20 as tried on a rented
GPU that the full images (about 160 MB) could not be copied to (configs/default_model_stage20_gpu.yaml,
docs/default_model.md).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def joint_side(annotation: dict) -> float:
    k = np.asarray(annotation["keypoints"], dtype=np.float64).reshape(-1, 3)
    k = k[k[:, 2] > 0]
    if len(k) < 2:
        return 0.0
    return float((k[:, :2].max(0) - k[:, :2].min(0)).max())


def shrink(train_json: Path, images: Path, out: Path, joint_cap: float, max_side: int, quality: int) -> dict:
    data = json.loads(train_json.read_text())
    by_file: dict[str, list[dict]] = {}
    for image in data["images"]:
        by_file.setdefault(image["file_name"], []).append(image)
    sides: dict[int, float] = {}
    for a in data["annotations"]:
        sides[a["image_id"]] = max(sides.get(a["image_id"], 0.0), joint_side(a))
    factor_of_id: dict[int, tuple[float, float]] = {}  # image id -> (x, y) scale
    total = 0
    for name, entries in by_file.items():
        side = max(sides.get(e["id"], 0.0) for e in entries)
        w, h = entries[0]["width"], entries[0]["height"]
        f = min(1.0, joint_cap / side if side > 0 else 1.0, max_side / max(w, h))
        pixels = cv2.imread(str(images / name), cv2.IMREAD_COLOR)
        if pixels is None:
            raise SystemExit(f"{images / name}: not a readable image")
        if f < 1.0:
            size = (max(1, round(w * f)), max(1, round(h * f)))
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        new_h, new_w = pixels.shape[:2]
        fx, fy = new_w / w, new_h / h
        target = out / Path(name).with_suffix(".webp")
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".webp", pixels, [cv2.IMWRITE_WEBP_QUALITY, quality])
        if not ok:
            raise SystemExit(f"{images / name}: OpenCV could not encode it as WebP")
        target.write_bytes(encoded.tobytes())
        total += len(encoded)
        for e in entries:
            e.update(file_name=str(Path(name).with_suffix(".webp")), width=new_w, height=new_h)
            factor_of_id[e["id"]] = (fx, fy)
    for a in data["annotations"]:
        fx, fy = factor_of_id[a["image_id"]]
        k = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        # pixel centres: x' = (x + 0.5) * f - 0.5, as cv2.resize maps them; box edges scale plainly
        k[:, 0] = np.where(k[:, 2] > 0, (k[:, 0] + 0.5) * fx - 0.5, k[:, 0])
        k[:, 1] = np.where(k[:, 2] > 0, (k[:, 1] + 0.5) * fy - 0.5, k[:, 1])
        a["keypoints"] = [round(float(v), 3) for v in k.reshape(-1)]
        x, y, bw, bh = a["bbox"]
        a["bbox"] = [round(x * fx, 2), round(y * fy, 2), round(bw * fx, 2), round(bh * fy, 2)]
        a["area"] = round(a["bbox"][2] * a["bbox"][3], 2)
    data.setdefault("info", {})["shrunk"] = {"joint_side": joint_cap, "max_side": max_side, "webp_quality": quality}
    (out / train_json.name).write_text(json.dumps(data))
    return {"files": len(by_file), "bytes": total}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("train_json", type=Path)
    p.add_argument("--images", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("gpudata"))
    # The defaults are what stage 20's GPU try used (44.8 MB for train_coco_lsp3's 8,080 photos).
    p.add_argument("--joint-side", type=float, default=100.0)
    p.add_argument("--max-side", type=int, default=288)
    p.add_argument("--quality", type=int, default=75)
    args = p.parse_args()
    done = shrink(args.train_json, args.images, args.out, args.joint_side, args.max_side, args.quality)
    print(f"{done['files']} images, {done['bytes'] / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
