"""`posekit predict SOURCE --checkpoint CKPT --out DIR`: poses for an image or a folder of images."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from posekit.commands import emit_json

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a checkpoint on an image or a folder; writes COCO results + drawings")
    p.add_argument("source", help="an image file or a folder of images")
    p.add_argument("--checkpoint", required=True, help="a posekit checkpoint")
    p.add_argument("--out", required=True, help="output folder (results.json and drawn images)")
    p.add_argument("--config", help="experiment YAML (default: the one stored in the checkpoint)")
    p.add_argument("--detections", help="COCO detections JSON (image_id, bbox, score) for top-down boxes")
    p.add_argument("--images-json", help="COCO JSON whose 'images' give the ids used by --detections "
                                         "(default: files numbered in sorted order from 0)")
    p.add_argument("--detector", help="person detector ONNX (end-to-end RTMDet); default: whole image as one box")
    p.add_argument("--det-threshold", type=float, default=0.3)
    p.add_argument("--kpt-threshold", type=float, default=0.3, help="draw keypoints scoring above this")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--no-draw", action="store_true")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def list_images(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        return files
    raise FileNotFoundError(f"{source}: no such image or folder")


def image_ids(files: list[Path], images_json: str | None) -> list[int]:
    if not images_json:
        return list(range(len(files)))
    from posekit.data.readers.common import load_json
    by_name = {Path(im["file_name"]).name: int(im["id"]) for im in load_json(Path(images_json)).get("images", [])}
    missing = [f.name for f in files if f.name not in by_name]
    if missing:
        raise ValueError(f"{images_json}: no image entry for {missing[:3]}")
    return [by_name[f.name] for f in files]


def load_detections(path: str | None) -> dict[int, np.ndarray]:
    if not path:
        return {}
    from posekit.data.readers.common import load_json
    rows = load_json(Path(path))
    if not isinstance(rows, list):
        raise ValueError(f"{path}: a COCO detections JSON is a list of {{image_id, bbox, score}}")
    boxes: dict[int, list] = {}
    for i, row in enumerate(rows):
        try:
            if int(row.get("category_id", 1)) == 1:
                boxes.setdefault(int(row["image_id"]), []).append([*map(float, row["bbox"][:4]), float(row.get("score", 1.0))])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: detection {i} lacks image_id/bbox/score") from None
    return {k: np.asarray(v) for k, v in boxes.items()}


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from posekit.data.io import load_image
    from posekit.experiment import load_experiment, write_results
    from posekit.inference.predictor import Predictor
    from posekit.visualize import draw_poses, save_rgb

    files = list_images(Path(args.source))
    ids = image_ids(files, args.images_json)
    detections = load_detections(args.detections)
    cfg, estimator = load_experiment(args.checkpoint, args.config)
    detector = None
    if args.detector and not detections:
        from posekit.inference.detector import PersonDetector
        detector = PersonDetector(args.detector, score_threshold=args.det_threshold)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    predictor = Predictor(estimator, cfg.paradigm, cfg.data.input_size, detector, device, not args.no_flip)
    out = Path(args.out)
    predictions = []
    for path, image_id in tqdm(list(zip(files, ids)), desc="predict", disable=len(files) < 2):
        image = load_image(path)
        boxes = detections.get(image_id, np.zeros((0, 5))) if detections else None
        poses = predictor(image, image_id, boxes) if boxes is None or len(boxes) else []
        predictions.extend(poses)
        if not args.no_draw:
            drawn = draw_poses(image, [p["keypoints"] for p in poses], estimator.keypoint_set, args.kpt_threshold,
                               boxes=[p["bbox"] for p in poses if "bbox" in p])
            save_rgb(out / f"{path.stem}_pose.jpg", drawn)
    write_results(predictions, out / "results.json")
    summary = {"images": len(files), "poses": len(predictions), "results": str(out / "results.json")}
    print(f"{summary['poses']} poses in {summary['images']} images -> {summary['results']}")
    if args.json:
        emit_json(summary)
    return 0
