"""Why semi-supervised training does or does not help on LSP: two measurements of every network of
the runs that benchmarks/ssl_lsp.py wrote.

1. How good are the pseudo-labels? PCK@0.2 on the unlabeled LSPET images, whose labels training
never reads and this diagnostic uses only to score.

The networks' easy-view predictions on those images are the consistency targets (PoseDual) or the
pseudo-labels (SSPCM), so their accuracy there bounds what the unlabeled data can teach. Each
network is scored under three ways of cropping the unlabeled image:

- whole image: what `strategy_params.unlabeled.format: lspet` feeds (no box; the person is then
  ~40 % of the image's long side against ~76 % in LSP's labelled crops),
- detector box: the best `posekit detect` box (RTMDet-nano), as `format: coco` with that JSON feeds,
- labelled box: the box around the labelled keypoints (an upper reference; needs the labels).

2. What do the unlabeled forward passes do to BatchNorm? Each training step also runs the networks
in train mode on unlabeled easy and hard views, so the running statistics used at test time mix
LSPET crops (rotated, occluded) with LSP ones. The LSP test PCK@0.2 as trained, and again after the
running statistics are re-estimated (weights untouched) on the 1,000 labeled LSP train crops.

    python benchmarks/ssl_diagnostics.py --runs runs/ssl_lsp [--boxes BOXES.json] [--images 1000]
        [--figure docs/img/ssl_lsp_predictions.png]

--figure draws the supervised network's predictions (red) and the labels (green) on the first LSP
test images and the first LSPET detector crops: what the pseudo-labels look like.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from posekit import experiment
from posekit.data.readers import read_coco, read_lsp, read_lspet
from posekit.evaluation.pck import PCKEvaluator
from posekit.training.precise_bn import recompute_batchnorm

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSEKIT_SHARED", REPO.parent / "shared")) / "data"
NETWORKS = {"supervised": [None], "posedual": ["net1", "net2"], "sspcm": ["student", "teacher1", "teacher2"],
            "sspcm_no_cut_occlude": ["student", "teacher1", "teacher2"]}


def with_boxes(data, boxes: dict[str, np.ndarray]):
    """LSPET records whose person box is replaced per crop policy (file name -> xywh; a missing
    name means the whole image, as the unlabeled dataset does for an image without a box)."""
    records = []
    for record in data.records:
        box = boxes.get(Path(record.file_name).name)
        if box is None:  # the whole image: shrink by the val padding (1.25) so the crop is the image
            w, h = record.width / 1.25, record.height / 1.25
            box = np.array([(record.width - w) / 2, (record.height - h) / 2, w, h], np.float32)
        records.append(replace(record, persons=[replace(record.persons[0], bbox=np.asarray(box, np.float32))]))
    return replace(data, records=records)


def score(cfg, estimator, data, evaluator) -> float:
    loader = experiment.val_loader(cfg, experiment.build_dataset(cfg, data, estimator.codec, train=False))
    predictions = experiment.predict_all(estimator, loader, False, torch.device("cpu"), progress=False)
    return evaluator.evaluate(predictions)["total"]


def draw_predictions(path: Path, cfg, estimator, rows: dict, count: int = 6) -> None:
    """One row per dataset: each image cropped to its box, labels green, predictions red."""
    import cv2
    from posekit.data.io import load_image
    tiles = []
    for title, data in rows.items():
        data = replace(data, records=data.records[:count])
        loader = experiment.val_loader(cfg, experiment.build_dataset(cfg, data, estimator.codec, train=False))
        predictions = experiment.predict_all(estimator, loader, False, torch.device("cpu"), progress=False)
        row = []
        for record, prediction in zip(data.records, predictions):
            x, y, w, h = record.persons[0].bbox
            cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.25
            x0, y0, scale = cx - side / 2, cy - side / 2, 160 / side
            warp = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
            tile = cv2.warpAffine(load_image(record.file_name), warp, (160, 160), borderValue=(0, 0, 0))
            for points, colour in ((record.persons[0].keypoints, (0, 200, 0)), (np.asarray(prediction["keypoints"]), (230, 0, 0))):
                for px, py, v in points:
                    if colour == (230, 0, 0) or v > 0:
                        cv2.circle(tile, (int(px * scale - x0 * scale), int(py * scale - y0 * scale)), 3, colour, -1)
            row.append(tile)
        strip = np.concatenate(row, axis=1)
        label = np.full((22, strip.shape[1], 3), 255, np.uint8)
        cv2.putText(label, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles += [label, strip]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(tiles, axis=0), cv2.COLOR_RGB2BGR))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/ssl_lsp", help="the ssl_lsp.py output folder")
    parser.add_argument("--boxes", help="posekit detect JSON of the LSPET images (default: <runs>/lspet_person_boxes.json)")
    parser.add_argument("--images", type=int, default=1000, help="score the first N LSPET images")
    parser.add_argument("--out", help="write the table (markdown) here too")
    parser.add_argument("--figure", help="draw predictions vs labels of the supervised run into this PNG")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    runs = Path(args.runs)
    lspet = read_lspet(DATA / "lspet")
    lspet = replace(lspet, records=lspet.records[:args.images])
    boxes_path = Path(args.boxes) if args.boxes else runs / "lspet_person_boxes.json"
    detected = {}
    if boxes_path.is_file():
        detections = read_coco(boxes_path, DATA / "lspet" / "images", "lsp14")
        detected = {Path(r.file_name).name: r.persons[0].bbox for r in detections.records if r.persons}
    policies = {"whole image": with_boxes(lspet, {}),
                "labelled box": lspet}
    if detected:
        policies["detector box"] = with_boxes(lspet, detected)
    evaluator = PCKEvaluator(lspet, lspet.keypoint_set, alpha=0.2, name="LSPET")
    lsp_train, lsp_test = read_lsp(DATA / "lsp", split="train"), read_lsp(DATA / "lsp", split="test")
    test_evaluator = PCKEvaluator(lsp_test, lsp_test.keypoint_set, alpha=0.2, name="LSP test")
    if args.figure and (runs / "supervised" / "last.pt").is_file():
        cfg, estimator = experiment.load_experiment(runs / "supervised" / "last.pt")
        draw_predictions(Path(args.figure), cfg, estimator, {
            "LSP test (labelled box): labels green, predictions red": lsp_test,
            "LSPET, detector crop (the unlabeled data): predictions = pseudo-labels": policies.get("detector box", lspet)})
    rows = []
    for run, networks in NETWORKS.items():
        checkpoint = runs / run / "last.pt"
        if not checkpoint.is_file():
            continue
        epochs = int(torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch"])
        for network in networks:
            cfg, estimator = experiment.load_experiment(checkpoint, network=network)
            row = {"run": run, "network": network or "model", "epochs": epochs}
            for policy, data in policies.items():
                row[policy] = score(cfg, estimator, data, evaluator)
            row["LSP test"] = score(cfg, estimator, lsp_test, test_evaluator)
            # The same recomputation as train.precise_bn_batches, here over all 1,000 labeled crops.
            loader = experiment.val_loader(cfg, experiment.build_dataset(cfg, lsp_train, estimator.codec, train=False))
            recompute_batchnorm([estimator], (batch["image"] for batch in loader))
            row["LSP test, BN re-estimated"] = score(cfg, estimator, lsp_test, test_evaluator)
            rows.append(row)
            print(json.dumps(row), flush=True)
    names = list(policies) + ["LSP test", "LSP test, BN re-estimated"]
    headers = [f"LSPET PCK@0.2, {n}" for n in policies] + ["LSP test PCK@0.2", "same, BN re-estimated on LSP train"]
    lines = [f"| run | network | epochs | {' | '.join(headers)} |", "|---|---|---|" + "---|" * len(names)]
    lines += [f"| {r['run']} | {r['network']} | {r['epochs']} | " + " | ".join(f"{r[n]:.3f}" for n in names) + " |"
              for r in rows]
    table = "\n".join(lines)
    print(f"first {len(lspet)} LSPET images; detector boxes for {sum(Path(r.file_name).name in detected for r in lspet.records)}")
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
