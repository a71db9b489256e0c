"""How good are the pseudo-labels? PCK@0.2 of every network of the semi-supervised runs on the
unlabeled LSPET images, whose labels training never reads and this diagnostic uses only to score.

The networks' easy-view predictions on those images are the consistency targets (PoseDual) or the
pseudo-labels (SSPCM), so their accuracy there bounds what the unlabeled data can teach. Each
network is scored under three ways of cropping the unlabeled image:

- whole image: what `strategy_params.unlabeled.format: lspet` feeds (no box; the person is then
  ~40 % of the image's long side against ~76 % in LSP's labelled crops),
- detector box: the best `posekit detect` box (RTMDet-nano), as `format: coco` with that JSON feeds,
- labelled box: the box around the labelled keypoints (an upper reference; needs the labels).

    python benchmarks/ssl_pseudo_labels.py --runs runs/ssl_lsp [--boxes BOXES.json] [--images 1000]
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
from posekit.data.readers import read_coco, read_lspet
from posekit.evaluation.pck import PCKEvaluator

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/ssl_lsp", help="the ssl_lsp.py output folder")
    parser.add_argument("--boxes", help="posekit detect JSON of the LSPET images (default: <runs>/lspet_person_boxes.json)")
    parser.add_argument("--images", type=int, default=1000, help="score the first N LSPET images")
    parser.add_argument("--out", help="write the table (markdown) here too")
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
    rows = []
    for run, networks in NETWORKS.items():
        checkpoint = runs / run / "last.pt"
        if not checkpoint.is_file():
            continue
        for network in networks:
            cfg, estimator = experiment.load_experiment(checkpoint, network=network)
            row = {"run": run, "network": network or "model", "epochs": int(torch.load(
                checkpoint, map_location="cpu", weights_only=False)["epoch"])}
            for policy, data in policies.items():
                loader = experiment.val_loader(cfg, experiment.build_dataset(cfg, data, estimator.codec, train=False))
                predictions = experiment.predict_all(estimator, loader, False, torch.device("cpu"), progress=False)
                row[policy] = evaluator.evaluate(predictions)["total"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    names = list(policies)
    lines = [f"| run | network | epochs | {' | '.join(f'LSPET PCK@0.2, {n}' for n in names)} |",
             "|---|---|---|" + "---|" * len(names)]
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
