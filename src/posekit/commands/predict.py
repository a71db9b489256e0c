"""`posekit predict SOURCE --out DIR [--checkpoint CKPT]`: poses for an image, a folder of images, a
video file or a camera, with the shipped default model unless a checkpoint or model file is given."""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from posekit.commands import emit_json, resolve_device

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` verb, with its video and camera options."""
    p = sub.add_parser("predict", help="run a model on images, a folder, a video or a camera; "
                                       "writes results + drawings")
    p.add_argument("source", help="an image, a folder of images, a video (.mp4 .avi .mov .mkv .webm) "
                                  "or a camera index such as 0")
    p.add_argument("--checkpoint", help="a posekit checkpoint or model file (default: the shipped default model)")
    p.add_argument("--out", required=True, help="output folder (results.json and drawn images; for a video "
                                                "<name>.jsonl and <name>_pose.mp4)")
    p.add_argument("--config", help="experiment YAML (default: the one stored in the checkpoint)")
    p.add_argument("--detections", help="COCO detections JSON (a list of {image_id, bbox, score}, or the "
                                        "output of `posekit detect`) for top-down boxes")
    p.add_argument("--images-json", help="COCO JSON whose 'images' give the ids used by --detections (default: the "
                                         "detections file's own 'images', else files numbered in sorted order from 0)")
    p.add_argument("--detector", help="person detector ONNX (end-to-end RTMDet); default: whole image as one box")
    p.add_argument("--det-threshold", type=float, default=0.3)
    p.add_argument("--kpt-threshold", type=float, default=None,
                   help="draw keypoints scoring above this (default: the model file's, else 0.3)")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--no-draw", action="store_true")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    video = p.add_argument_group("video and camera (see docs/video.md)")
    video.add_argument("--max-frames", type=int, help="stop after this many frames")
    video.add_argument("--track", action="store_true", help="give each person an id that lasts across frames")
    video.add_argument("--track-metric", choices=("oks", "iou"), default="oks",
                       help="match persons by keypoint similarity (OKS) or box overlap (IoU)")
    video.add_argument("--track-threshold", type=float, default=0.3, help="least OKS/IoU that continues a track")
    video.add_argument("--track-max-age", type=int, default=5, help="frames a person may be unseen and keep their id")
    video.add_argument("--smooth", action="store_true", help="One-Euro filter on each tracked person's keypoints "
                                                             "(turns --track on)")
    video.add_argument("--min-cutoff", type=float, default=1.0, help="One-Euro cutoff at rest, Hz (lower: smoother)")
    video.add_argument("--beta", type=float, default=5.0, help="One-Euro speed coefficient (higher: less lag)")
    video.add_argument("--d-cutoff", type=float, default=1.0, help="One-Euro cutoff of the speed estimate, Hz")
    p.set_defaults(run=run)


def list_images(source: Path) -> list[Path]:
    """[source] for a file, else the folder's images (by suffix) in name order; FileNotFoundError if none."""
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        return files
    raise FileNotFoundError(f"{source}: no such image or folder")


def image_ids(files: list[Path], images: list[dict] | None, where: str | None) -> list[int]:
    """Ids from COCO 'images' entries matched by file name (`where` names their file), else 0, 1, 2..."""
    if images is None:
        return list(range(len(files)))
    try:
        by_name = {Path(im["file_name"]).name: int(im["id"]) for im in images}
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: each 'images' entry needs a file_name and an integer id") from None
    missing = [f.name for f in files if f.name not in by_name]
    if missing:
        raise ValueError(f"{where}: no image entry for {missing[:3]}")
    return [by_name[f.name] for f in files]


def load_detections(path: str | None) -> tuple[dict[int, np.ndarray], list[dict] | None]:
    """Person boxes (x, y, w, h, score) per image id, and the file's 'images' when it has them: a COCO
    detections list, or a COCO JSON whose annotations are the boxes (what `posekit detect` writes).
    A bad box is skipped with a warning (one detector glitch should not cost the other images)."""
    if not path:
        return {}, None
    rows, images = detection_rows(path)
    boxes: dict[int, list] = {}
    bad: list[str] = []
    for i, row in enumerate(rows):
        try:
            if int(row.get("category_id", 1)) != 1:
                continue
            image_id, bbox, score = int(row["image_id"]), row["bbox"], row.get("score", 1.0)
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: detection {i} lacks image_id/bbox/score") from None
        problem = box_problem(bbox, score)
        if problem:
            bad.append(f"{path}: detection {i} (image_id {image_id}) {problem}")
            continue
        boxes.setdefault(image_id, []).append([*map(float, bbox), float(score)])
    warn_bad_boxes(bad)
    return {k: np.asarray(v) for k, v in boxes.items()}, images


def detection_rows(path: str) -> tuple[list, list[dict] | None]:
    """The detections file's rows and its 'images' (None when it has none)."""
    from posekit.data.readers.common import load_json
    data = load_json(Path(path), "detections")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        images = data.get("images")
        if images is not None and not isinstance(images, list):
            raise ValueError(f"{path}: 'images' must be a list")
        return data["annotations"], images
    if isinstance(data, list):
        return data, None
    raise ValueError(f"{path}: detections are a COCO list of {{image_id, bbox, score}} "
                     "or a COCO JSON with them as 'annotations'")


def box_problem(bbox: Any, score: Any) -> str | None:
    """Why a detection's box cannot be cropped (None when it can): COCO's 4-number [x, y, w, h], checked
    as the predictors check boxes (preprocess.person_boxes: finite, w and h > 0)."""
    from posekit.data.readers.coco_checks import show
    from posekit.data.transforms.preprocess import person_boxes
    try:
        shape = np.shape(bbox)
    except ValueError:  # ragged: numpy refuses to give it a shape
        shape = None
    if shape != (4,):
        return f"has bbox {show(bbox)}; a COCO box is 4 numbers [x, y, w, h]"
    try:
        person_boxes([*bbox, score], "box with score")
    except ValueError as exc:
        return f"has an unusable box ({exc})"
    return None


def warn_bad_boxes(bad: list[str], shown: int = 5) -> None:
    """One warning per skipped box, up to `shown`; then a count, so a detector's thousand empty boxes
    do not bury the rest of the output."""
    for message in bad[:shown]:
        print(f"posekit predict: warning: {message}; skipped", file=sys.stderr)
    if len(bad) > shown:
        print(f"posekit predict: warning: {len(bad) - shown} more bad boxes skipped", file=sys.stderr)


def check_positional_ids(detections: dict[int, np.ndarray], count: int, where: str) -> None:
    """With files numbered 0..count-1 by position, detection ids beyond that are some other numbering
    (COCO image ids): reading them as positions would put one image's boxes on another file."""
    missing = sorted(set(detections) - set(range(count)))
    if missing:
        raise ValueError(f"{where}: {len(missing)} of its {len(detections)} image ids match no file here "
                         f"(e.g. {missing[0]}): without an 'images' section the {count} files are numbered "
                         f"0..{count - 1} in name order; pass --images-json GT.json (the COCO JSON its ids come "
                         "from) or a detections file with an 'images' section")


def make_out(path: str) -> Path:
    """--out created before the model loads: a path under a file or an unwritable folder is one line,
    not a traceback after the work."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {path}: cannot create this folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: this folder is not writable")
    return out


def drawing_names(files: list[Path]) -> dict[Path, str]:
    """<stem>_pose.jpg, or <stem>_<suffix>_pose.jpg where files differ only in suffix (a.jpg, a.png)."""
    stems = Counter(f.stem for f in files)
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for f in files:
        name = f"{f.stem}_pose.jpg" if stems[f.stem] == 1 else f"{f.stem}_{f.suffix[1:]}_pose.jpg"
        base, n = name[:-len("_pose.jpg")], 2
        while name in taken:  # a_jpg.png beside a.jpg and a.png
            name, n = f"{base}_{n}_pose.jpg", n + 1
        taken.add(name)
        names[f] = name
    return names


def build_model(args: argparse.Namespace, detector: Any) -> Any:
    """The PoseModel the arguments name (--checkpoint, --config, --device, --no-flip).

    Sets args.kpt_threshold to the model's own threshold when it was not given.
    """
    from posekit.inference.api import PoseModel, load
    device = resolve_device(args.device)
    if args.config:
        from posekit.experiment import load_experiment
        if not args.checkpoint:
            raise ValueError("--config goes with --checkpoint (the default model carries its own settings)")
        cfg, estimator = load_experiment(args.checkpoint, args.config)  # with the config's preprocessing
        model = PoseModel(estimator, cfg.paradigm, detector=detector, device=device, flip_test=not args.no_flip,
                          name=cfg.model.name)
    else:
        from posekit.models.zoo import is_model_name
        if args.checkpoint and not Path(args.checkpoint).is_file() and is_model_name(args.checkpoint):
            raise ValueError(f"--checkpoint {args.checkpoint}: a zoo name alone has no trained weights; give a "
                             "checkpoint or model file of it (or leave --checkpoint out for the default model)")
        model = load(args.checkpoint, detector=detector, device=device, flip_test=not args.no_flip)
    if args.kpt_threshold is None:
        args.kpt_threshold = model.keypoint_threshold
    return model


def threshold_note(count: int, what: str, threshold: float, drawn: bool = True) -> str:
    """The hint printed when `count` images or frames had no keypoint above the threshold (the threshold
    only changes the drawings, so the hint to lower it goes with them)."""
    note = f"{count} {what} had no keypoint above --kpt-threshold {threshold}"
    return f"{note}, so their drawings show boxes only; lower it to see them" if drawn else note


def run(args: argparse.Namespace) -> int:
    """Dispatch to run_video for a video file or camera index, else run_images; returns their exit code."""
    from posekit.inference.video import is_video_source
    if is_video_source(args.source):
        return run_video(args)
    return run_images(args)


def run_video(args: argparse.Namespace) -> int:
    """Predict every frame (optionally tracked and smoothed), write <name>.jsonl and the drawn video,
    print the pose, frame and track counts.

    Returns 0, or 130 when Ctrl+C stopped a video file (stopping a camera that way is the normal end).
    """
    from posekit.inference.smoothing import PoseSmoother
    from posekit.inference.tracking import PoseTracker
    from posekit.inference.video import VideoSource
    from posekit.inference.video import run_video as predict_video

    if args.detections or args.images_json:
        raise ValueError("--detections/--images-json are for images; in a video persons come from --detector "
                         "(or the whole frame)")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    smoother = PoseSmoother(args.min_cutoff, args.beta, args.d_cutoff) if args.smooth else None
    tracking = args.track or args.smooth
    if tracking:  # the parameters checked before the model loads; the sigmas come with it
        PoseTracker(None, args.track_metric, args.track_threshold, args.track_max_age)
    make_out(args.out)
    video = VideoSource(args.source)  # a missing or unreadable video is named before the model loads
    try:
        detector = None
        if args.detector:
            from posekit.inference.detector import PersonDetector
            detector = PersonDetector(args.detector, score_threshold=args.det_threshold)
        model = build_model(args, detector)
    except BaseException:
        video.close()
        raise
    tracker = None
    if tracking:
        tracker = PoseTracker(model.keypoint_set.sigmas, args.track_metric, args.track_threshold,
                              args.track_max_age, args.kpt_threshold)
    summary = predict_video(model, video, args.out, tracker=tracker, smoother=smoother,
                            max_frames=args.max_frames, kpt_threshold=args.kpt_threshold, draw=not args.no_draw)
    tracks = f", {summary['tracks']} track ids" if summary["tracks"] is not None else ""
    stopped = " (stopped by Ctrl+C)" if summary["interrupted"] else ""
    print(f"{summary['persons']} poses in {summary['frames']} frames{tracks}{stopped} -> {summary['jsonl']}"
          + (f", {summary['video']}" if summary["video"] else ""))
    if summary["frames_below_kpt_threshold"]:
        print(threshold_note(summary["frames_below_kpt_threshold"], "frames", args.kpt_threshold,
                             drawn=not args.no_draw))
    if args.json:
        emit_json(summary)
    return 130 if summary["interrupted"] and not video.camera else 0


def run_images(args: argparse.Namespace) -> int:
    """Predict each image, write results.json and <stem>_pose.jpg drawings, print the pose count; returns 0.

    In a folder an unreadable image is skipped with a warning; it is an error only if none can be read.
    """
    from tqdm import tqdm

    from posekit.data.io import load_image
    from posekit.data.records import DataError
    from posekit.experiment import write_results
    from posekit.visualize import draw_poses, save_rgb

    if args.track or args.smooth or args.max_frames is not None:
        raise ValueError(f"--track, --smooth and --max-frames are for a video or a camera; {args.source} "
                         "is read as images")
    files = list_images(Path(args.source))
    detections, det_images = load_detections(args.detections)
    if args.images_json:
        from posekit.data.readers.common import load_json
        coco = load_json(Path(args.images_json))
        if not isinstance(coco, dict) or not isinstance(coco.get("images"), list):
            raise ValueError(f"{args.images_json}: not a COCO JSON with an 'images' list")
        ids = image_ids(files, coco["images"], args.images_json)
    else:
        ids = image_ids(files, det_images, args.detections)
        if det_images is None and args.detections:
            check_positional_ids(detections, len(files), args.detections)
    out = make_out(args.out)
    detector = None
    if args.detector and not args.detections:
        from posekit.inference.detector import PersonDetector
        detector = PersonDetector(args.detector, score_threshold=args.det_threshold)
    model = build_model(args, detector)
    names = drawing_names(files)
    predictions, skipped, below_threshold = [], [], 0
    for path, image_id in tqdm(list(zip(files, ids)), desc="predict", disable=len(files) < 2):
        try:
            image = load_image(path, orientation=True)
        except DataError as exc:  # in a folder, one bad file costs its own results only
            if len(files) == 1:
                raise
            skipped.append(str(exc))
            tqdm.write(f"posekit predict: warning: {exc}; skipped", file=sys.stderr)
            continue
        # Given detections are the only boxes: an image without any (all its boxes bad) gets no pose.
        boxes = detections.get(image_id, np.zeros((0, 5))) if args.detections else None
        poses = model.predictor(image, image_id, boxes) if boxes is None or len(boxes) else []
        for pose in poses:
            pose["file_name"] = path.name
        predictions.extend(poses)
        if poses and not any((np.asarray(p["keypoints"])[:, 2] > args.kpt_threshold).any() for p in poses):
            below_threshold += 1
        if not args.no_draw:
            drawn = draw_poses(image, [p["keypoints"] for p in poses], model.keypoint_set, args.kpt_threshold,
                               boxes=[p["bbox"] for p in poses if "bbox" in p])
            save_rgb(out / names[path], drawn)
    if len(skipped) == len(files):
        raise ValueError(f"{args.source}: none of the {len(files)} images could be read (first: {skipped[0]})")
    write_results(predictions, out / "results.json")
    summary = {"images": len(files) - len(skipped), "skipped": len(skipped), "poses": len(predictions),
               "no_keypoint_above_threshold": below_threshold, "results": str(out / "results.json")}
    unreadable = f" ({len(skipped)} unreadable image{'s' * (len(skipped) > 1)} skipped)" if skipped else ""
    print(f"{summary['poses']} poses in {summary['images']} images{unreadable} -> {summary['results']}")
    if below_threshold:
        print(threshold_note(below_threshold, "images", args.kpt_threshold, drawn=not args.no_draw))
    if args.json:
        emit_json(summary)
    return 0

