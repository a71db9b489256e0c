"""Learning, shown on real data: HigherHRNet overfits a few coco_subset images on the CPU.

Proves that targets (AE codec), loss (masked MSE at both resolutions + AE pull/push), grouping and
OKS evaluation fit together: the loss falls and OKS AP on the same images rises above 0.5.
A plain loop over the codec's targets (no augmentation, masks all ones); the training engine runs
the same `BottomUpEstimator.loss` on batches of the bottom-up dataset.

    python benchmarks/higherhrnet_overfit.py [--images 4] [--input 256] [--width 16] [--steps 300]
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

from posekit.data.io import load_image
from posekit.data.readers.coco import read_coco
from posekit.data.transforms.preprocess import short_side_resize
from posekit.estimators.bottomup import build_bottomup_estimator
from posekit.evaluation.coco import evaluate_coco, load_json

DATA = Path(os.environ.get("POSEKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def make_samples(records, estimator, input_size: int) -> list[dict]:
    samples = []
    for record in records:
        warp, size = short_side_resize(record.width, record.height, input_size)
        image = cv2.warpAffine(load_image(record.file_name), warp, size, flags=cv2.INTER_LINEAR)
        persons = [p for p in record.persons if not p.iscrowd and p.num_keypoints > 0]
        points = np.stack([p.keypoints[:, :2] for p in persons]) @ warp[:, :2].T + warp[:, 2]
        visible = np.stack([p.keypoints[:, 2] > 0 for p in persons])
        estimator.codec.input_size = size  # the codec's output sizes follow the input size
        targets = estimator.codec.encode(points, visible)
        tensor = torch.from_numpy(((image.astype(np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1).copy())
        samples.append({"image": tensor[None], "warp": warp[None], "image_id": [record.image_id],
                        "masks": [torch.ones(1, h, w) for w, h in estimator.codec.output_sizes],
                        **{k: torch.from_numpy(v)[None] for k, v in targets.items()}})
    return samples


def evaluate(estimator, samples, gt: dict, sigmas: np.ndarray, batch_stats: bool) -> dict:
    estimator.eval()
    if batch_stats:
        # Training saw one image per batch, so BatchNorm normalised each image by its own statistics;
        # the running averages over a handful of different images match none of them.
        for module in estimator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.train()
    results = []
    for sample in samples:
        for person in estimator.predict(sample, flip_test=False)[0]:
            results.append({"image_id": person["image_id"], "category_id": 1, "score": person["score"],
                            "keypoints": person["keypoints"].ravel().tolist()})
    estimator.train()
    return evaluate_coco(gt, results, sigmas, gt_name="coco_subset (selected images)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--input", type=int, default=256)
    parser.add_argument("--width", type=int, default=16, help="HRNet width (published: 32)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--bn", choices=("batch", "running"), default="batch",
                        help="BatchNorm statistics at evaluation: per image as in training, or running averages")
    args = parser.parse_args()
    torch.manual_seed(0)
    gt_path = DATA / "coco_subset" / "person_keypoints_merged.json"
    data = read_coco(gt_path)
    records = [r for r in data.records if 1 <= sum(not p.iscrowd and p.num_keypoints >= 8 for p in r.persons) <= 2]
    records = records[:args.images]
    keep = {r.image_id for r in records}
    gt = load_json(gt_path, "ground truth")
    gt = {**gt, "images": [i for i in gt["images"] if i["id"] in keep],
          "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}
    estimator = build_bottomup_estimator("higherhrnet-w32", input_size=(args.input, args.input),
                                         model_params={"width": args.width})
    samples = make_samples(records, estimator, args.input)
    optimizer = torch.optim.Adam(estimator.parameters(), lr=args.lr)
    history = []
    start = time.time()
    for step in range(1, args.steps + 1):
        optimizer.zero_grad()
        totals: dict[str, float] = {}
        for sample in samples:
            terms = estimator.loss(sample)
            (terms["loss"] / len(samples)).backward()
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) / len(samples)
        optimizer.step()
        if step == 1 or step % 20 == 0:
            print(f"step {step:4d}  " + "  ".join(f"{k} {v:.3g}" for k, v in totals.items()) +
                  f"  ({time.time() - start:.0f}s)", flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                stats = evaluate(estimator, samples, gt, data.keypoint_set.sigmas_array, args.bn == "batch")
            history.append({"step": step, "loss": totals["loss"], **stats})
            print(f"step {step:4d}  OKS AP {stats['AP']:.3f}  AR {stats['AR']:.3f}", flush=True)
    print(json.dumps({"images": sorted(keep), "input": args.input, "width": args.width, "steps": args.steps, "bn": args.bn,
                      "seconds": round(time.time() - start), "history": history}))


if __name__ == "__main__":
    main()
