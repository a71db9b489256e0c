"""`posekit detect IMAGES --detector ONNX --out boxes.json`: person boxes as a COCO JSON.

Turns a folder of unlabeled images into person crops for top-down training without using any
label: the semi-supervised strategies read the JSON as `strategy_params.unlabeled: {format: coco,
path: boxes.json, images: IMAGES}`, one unlabeled sample per box. `posekit predict --detections`
reads it too.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `detect` verb."""
    p = sub.add_parser("detect", help="person boxes for a folder of images, written as a COCO JSON")
    p.add_argument("source", help="an image file or a folder of images")
    p.add_argument("--detector", required=True, help="person detector ONNX (end-to-end RTMDet)")
    p.add_argument("--out", required=True, help="the COCO JSON to write (images, person boxes with scores)")
    p.add_argument("--min-score", type=float, default=0.3, help="keep boxes scoring at least this")
    p.add_argument("--max-per-image", type=int, default=0, help="keep the N best boxes per image (0 = all)")
    p.add_argument("--min-size", type=float, default=0.0,
                   help="drop boxes whose longer side is below this many pixels")
    p.add_argument("--limit", type=int, default=0, help="only the first N images in name order (0 = all)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = its default)")
    p.add_argument("--json", action="store_true", help="print one JSON summary on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Detect persons in each image, write the COCO JSON (ids numbered in name order) and print the
    box count; returns 0."""
    from tqdm import tqdm

    from posekit.commands.predict import list_images
    from posekit.data.convert import check_out_file
    from posekit.data.io import load_image
    from posekit.inference.detector import PersonDetector

    if args.max_per_image < 0:
        raise ValueError(f"--max-per-image must be >= 0, got {args.max_per_image}")
    # NaN compares false with every score and size: it would drop every box without a word.
    if not 0 <= args.min_score <= 1:
        raise ValueError(f"--min-score must be between 0 and 1, got {args.min_score}")
    if not args.min_size >= 0:
        raise ValueError(f"--min-size must be >= 0, got {args.min_size}")
    out = check_out_file(args.out, "--out")
    files = list_images(Path(args.source))
    if args.limit > 0:
        files = files[:args.limit]
    detector = PersonDetector(args.detector, score_threshold=args.min_score, threads=args.threads)
    images, annotations = [], []
    for image_id, path in enumerate(tqdm(files, desc="detect", unit="img")):
        image = load_image(path, orientation=True)
        height, width = image.shape[:2]
        images.append({"id": image_id, "file_name": path.name, "width": width, "height": height})
        boxes = detector(image)  # best first
        boxes = boxes[boxes[:, 2:4].max(axis=1) >= args.min_size]
        if args.max_per_image:
            boxes = boxes[:args.max_per_image]
        for x, y, w, h, score in boxes.tolist():
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                "bbox": [round(v, 2) for v in (x, y, w, h)], "score": round(score, 4),
                                "area": round(w * h, 2), "iscrowd": 0, "num_keypoints": 0})
    out.write_text(json.dumps({"images": images, "annotations": annotations,
                               "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
                               "info": {"description": f"person boxes by {Path(args.detector).name}, "
                                                       f"score >= {args.min_score}"}}))
    with_box = len({a["image_id"] for a in annotations})
    print(f"{len(files)} images, {len(annotations)} person boxes ({with_box} images with at least one) -> {out}")
    if args.json:
        emit_json({"images": len(files), "boxes": len(annotations), "images_with_boxes": with_box, "out": str(out)})
    return 0
