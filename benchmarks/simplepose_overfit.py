"""Simple Pose learns: the small IMHN (`simplepose-imhn-s`, narrowed by default to width 32 for a
shared 2-core CPU) fitted on a few real coco_subset images
with focal L2 and with plain L2, side by side, on CPU; OKS AP on those same images after training.

A plain loop over the codec's encoded targets (no augmentation): each image is letterboxed to the
input size, its persons encoded into the 50 channels, and the network supervised at all 5 scales of
both stacks. Decoding is the full greedy assignment (no flip), mapped back to the original image.

    python benchmarks/simplepose_overfit.py [--images 4] [--iters 200] [--input 192] [--width 32] [--losses focal_l2,l2]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from posekit.codecs import build_codec
from posekit.data.readers.coco import read_coco
from posekit.evaluation.coco import evaluate_coco, load_json
from posekit.models.losses.focal_l2 import MultiScaleFocalL2
from posekit.models.zoo import build_model

DATA = Path(os.environ.get("POSEKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
GT = DATA / "coco_subset" / "person_keypoints_merged.json"
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def letterbox(width: int, height: int, size: int) -> np.ndarray:
    scale = size / max(width, height)
    return np.array([[scale, 0, (size - scale * width) / 2], [0, scale, (size - scale * height) / 2]])


def pick_records(num: int):
    """Images whose annotated persons are few and large enough to matter at a small input."""
    data = read_coco(GT)
    chosen = []
    for r in data.records:
        persons = [p for p in r.persons if not p.iscrowd and p.num_keypoints > 0]
        if not persons or any(p.iscrowd for p in r.persons) or len(persons) > 3:
            continue
        if min(p.num_keypoints for p in persons) >= 8 and min(p.area for p in persons) > 0.08 * r.width * r.height:
            chosen.append(r)
        if len(chosen) == num:
            break
    return data, chosen


def make_batch(records, codec, size: int):
    images, targets, warps = [], [], []
    for r in records:
        warp = letterbox(r.width, r.height, size)
        img = cv2.cvtColor(cv2.imread(r.file_name), cv2.COLOR_BGR2RGB)
        img = cv2.warpAffine(img, warp, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        images.append(((img / 255.0 - MEAN) / STD).transpose(2, 0, 1))
        persons = [p for p in r.persons if not p.iscrowd and p.num_keypoints > 0]
        points = np.stack([p.keypoints[:, :2] for p in persons]) @ warp[:, :2].T + warp[:, 2]
        visible = np.stack([p.keypoints[:, 2] > 0 for p in persons])
        targets.append(codec.encode(points, visible)["targets"])
        warps.append(warp)
    return torch.tensor(np.stack(images), dtype=torch.float32), torch.from_numpy(np.stack(targets)), warps


def evaluate(model, codec, images, warps, records, sigmas) -> dict:
    model.eval()
    with torch.no_grad():
        maps = model(images)[-1][0].numpy()
    results = []
    for (poses, scores), warp, r in zip(codec.decode(maps), warps, records):
        inverse = cv2.invertAffineTransform(warp)
        for pose, score in zip(poses, scores):
            xy = pose[:, :2] @ inverse[:, :2].T + inverse[:, 2]
            results.append({"image_id": r.image_id, "category_id": 1, "score": float(score),
                            "keypoints": np.concatenate([xy, pose[:, 2:]], 1).ravel().tolist()})
    gt = load_json(GT, "ground truth")
    keep = {r.image_id for r in records}
    gt = {**gt, "images": [i for i in gt["images"] if i["id"] in keep],
          "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}
    stats = evaluate_coco(gt, results, sigmas, gt_name=str(GT))
    return {"AP": stats["AP"], "AR": stats["AR"], "persons": len(results)}


def train(focal: bool, images, targets, codec, iters: int, lr: float,
          model_params: dict) -> tuple[torch.nn.Module, list[float]]:
    torch.manual_seed(0)
    model = build_model("simplepose-imhn-s", **model_params)
    loss_fn = MultiScaleFocalL2(codec.num_limbs, codec.num_parts, focal=focal)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    masks = torch.ones(targets.shape[0], *targets.shape[-2:])
    curve = []
    model.train()
    for it in range(iters):
        loss = loss_fn(model(images), targets, masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
        if it % 25 == 0:
            print(f"  {'focal L2' if focal else 'L2'} iter {it:4d} loss {curve[-1]:.4f}", flush=True)
    return model, curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--input", type=int, default=192)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--width", type=int, default=32, help="hourglass width (the -s variant: 64)")
    parser.add_argument("--increase", type=int, default=16, help="channels added per downsampling")
    parser.add_argument("--losses", default="focal_l2,l2", help="which of focal_l2, l2 to train (comma list)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data, records = pick_records(args.images)
    codec = build_codec("simplepose", input_size=(args.input, args.input))
    images, targets, warps = make_batch(records, codec, args.input)
    model_params = {"width": args.width, "increase": args.increase, "stem_first": args.width // 2}
    report = {"images": [r.image_id for r in records], "iters": args.iters, "input": args.input, "lr": args.lr,
              "model": {"name": "simplepose-imhn-s", **model_params}}
    print(f"{'loss':<8} {'first':>9} {'last':>9} {'AP':>6} {'AR':>6} {'persons':>8} {'seconds':>8}")
    for name in args.losses.split(","):
        if name not in ("focal_l2", "l2"):
            raise SystemExit(f"--losses: unknown loss '{name}' (focal_l2, l2)")
        focal = name == "focal_l2"
        start = time.perf_counter()
        model, curve = train(focal, images, targets, codec, args.iters, args.lr, model_params)
        stats = evaluate(model, codec, images, warps, records, data.keypoint_set.sigmas_array)
        row = {"first_loss": curve[0], "last_loss": curve[-1], **stats, "seconds": time.perf_counter() - start}
        report[name] = row
        print(f"{name:<8} {curve[0]:>9.3f} {curve[-1]:>9.4f} {stats['AP']:>6.3f} {stats['AR']:>6.3f} "
              f"{stats['persons']:>8} {row['seconds']:>8.0f}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
