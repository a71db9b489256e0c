"""Top-down inference speed on CPU, end to end: posekit.runtime vs rtmlib's RTMPose vs eager posekit.

One RTMPose ONNX file (written by `posekit export`: random rtmpose-m at 256x192 by default, or
--checkpoint) runs on the same images and person boxes (RTMDet-nano boxes found once beforehand, the
whole image where it finds none) through:
  rtmlib      rtmlib.RTMPose: one onnxruntime call per box (its __call__ loop, timed per stage)
  runtime     posekit.runtime: all boxes of an image in one onnxruntime call, vectorised decode
  runtime-list  posekit.runtime called once on the list of images: all their boxes in one call
  eager       posekit.load() on the model file: PyTorch
with 1 and 2 threads, contenders alternating within each repeat so machine load hits all alike.
rtmlib has no flip test, so the comparison runs with flip test off; `runtime+flip` shows its cost.
rtmlib and posekit.runtime share one onnxruntime session (same options), so only the code around
the network differs. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/runtime_speed.py                       # about 1-2 minutes on 2 cores
    .venv/bin/python benchmarks/runtime_speed.py --repeat 3 --lsp 8 --checkpoint default

rtmlib is a benchmark-only extra: `pip install --no-deps rtmlib` (its opencv-python and
opencv-contrib-python requirements would shadow posekit's opencv-python-headless; it needs only cv2,
numpy and onnxruntime, all present). Given a local ONNX path it downloads nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

# As the CLI: idle OpenMP threads sleep, so eager PyTorch is not slowed by spinning on a shared CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

import posekit.runtime  # noqa: E402
from posekit.commands.export import export_pose_model  # noqa: E402
from posekit.estimators.topdown import build_topdown_estimator  # noqa: E402
from posekit.inference.api import load  # noqa: E402
from posekit.inference.model_file import model_file_state, save_model_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSEKIT_SHARED", REPO.parent / "shared"))


def random_rtmpose_m(workdir: Path) -> Path:
    """A model file of rtmpose-m at 256x192 with random weights; the head re-drawn with torch's default
    init so SimCC logits are O(1) and decoded points spread out (as a trained model's)."""
    torch.manual_seed(0)
    estimator = build_topdown_estimator("rtmpose-m", "coco17", (192, 256))
    for m in estimator.model.head.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()
    return save_model_file(model_file_state(estimator, "rtmpose-m", (192, 256), 1.25, {}, half=False),
                           workdir / "rtmpose-m.pt")


def person_boxes(images: list[np.ndarray], detector_path: Path) -> list[np.ndarray]:
    """(N, 5) x, y, w, h, score per image: RTMDet-nano's, else the whole image."""
    from posekit.inference.detector import PersonDetector
    detector = PersonDetector(detector_path, threads=1) if detector_path.is_file() else None
    boxes = []
    for image in images:
        found = detector(image[..., ::-1].copy()) if detector is not None else np.zeros((0, 5))
        h, w = image.shape[:2]
        boxes.append(found.astype(np.float64) if len(found) else np.array([[0.0, 0.0, w, h, 1.0]]))
    return boxes


def run_rtmlib(tool, images, boxes, stages):
    """rtmlib.RTMPose.__call__'s loop, stage by stage: one crop and one session run per box."""
    results = []
    for image, image_boxes in zip(images, boxes):
        keypoints, scores = [], []
        for x, y, w, h, _ in image_boxes:
            t0 = time.perf_counter()
            crop, center, scale = tool.preprocess(image, [x, y, x + w, y + h])
            t1 = time.perf_counter()
            outputs = tool.inference(crop)
            t2 = time.perf_counter()
            kpts, score = tool.postprocess(outputs, center, scale)
            t3 = time.perf_counter()
            keypoints.append(kpts)
            scores.append(score)
            stages["preprocess"] += t1 - t0
            stages["inference"] += t2 - t1
            stages["decode"] += t3 - t2
        results.append((np.concatenate(keypoints), np.concatenate(scores)))
    return results


def run_runtime(predictor, images, boxes, stages):
    """posekit.runtime's __call__, stage by stage: all boxes of an image in one session run."""
    results = []
    for image, image_boxes in zip(images, boxes):
        t0 = time.perf_counter()
        given = predictor.boxes_for(image, image_boxes, rgb=False)
        batch, warps = predictor.preprocess(image, given, rgb=False)
        t1 = time.perf_counter()
        outputs = predictor.infer(batch)
        t2 = time.perf_counter()
        persons = predictor.decode(outputs, warps, given)
        t3 = time.perf_counter()
        results.append(persons)
        stages["preprocess"] += t1 - t0
        stages["inference"] += t2 - t1
        stages["decode"] += t3 - t2
    return results


def run_runtime_list(predictor, images, boxes, stages):
    """posekit.runtime on the whole list at once (one set of boxes per image): one session run."""
    return predictor(images, boxes=boxes)


def run_eager(model, images, boxes, stages):
    return [model(image, boxes=image_boxes) for image, image_boxes in zip(images, boxes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a posekit checkpoint or model file, or `default` "
                                             "(default: random rtmpose-m at 256x192)")
    parser.add_argument("--lsp", type=int, default=4, help="LSP images besides the 4 demo images")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes over all images per contender")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    try:
        from rtmlib import RTMPose
    except ImportError:
        raise SystemExit("runtime_speed: rtmlib is not installed; it is a benchmark-only extra: "
                         "`.venv/bin/pip install --no-deps rtmlib` (see this script's docstring)") from None

    files = sorted((SHARED / "data" / "images").iterdir())
    files += sorted((SHARED / "data" / "lsp" / "images").iterdir())[:args.lsp]
    images = [cv2.imread(str(f)) for f in files]  # BGR, as both libraries take arrays
    boxes = person_boxes(images, SHARED / "weights" / "rtmdet_nano_person_end2end.onnx")
    crops = sum(len(b) for b in boxes)

    with tempfile.TemporaryDirectory() as tmp:
        source = args.checkpoint or random_rtmpose_m(Path(tmp))
        model = load(None if source == "default" else source, flip_test=False)
        onnx_path = Path(tmp) / "pose.onnx"
        meta = export_pose_model(model, onnx_path)
        rows, diffs = [], {}
        for threads in args.threads:
            torch.set_num_threads(threads)
            runtime = posekit.runtime.load(onnx_path, threads=threads, flip_test=False)
            runtime_flip = posekit.runtime.load(onnx_path, threads=threads, flip_test=True)
            with contextlib.redirect_stdout(io.StringIO()):  # rtmlib prints a line on load
                rtmlib = RTMPose(str(onnx_path), model_input_size=meta.input_size, backend="onnxruntime")
            rtmlib.session = runtime.session  # same session and options: only the code around it differs
            contenders = {"rtmlib": (run_rtmlib, rtmlib), "runtime": (run_runtime, runtime),
                          "runtime-list": (run_runtime_list, runtime), "eager": (run_eager, model),
                          "runtime+flip": (run_runtime, runtime_flip)}
            walls = {name: [] for name in contenders}
            stages = {name: {"preprocess": 0.0, "inference": 0.0, "decode": 0.0} for name in contenders}
            outputs = {}
            for name, (fn, tool) in contenders.items():  # warm-up pass, also kept for the agreement check
                outputs[name] = fn(tool, images, boxes, {"preprocess": 0.0, "inference": 0.0, "decode": 0.0})
            for _ in range(args.repeat):
                for name, (fn, tool) in contenders.items():
                    start = time.perf_counter()
                    fn(tool, images, boxes, stages[name])
                    walls[name].append(time.perf_counter() - start)
            diffs[threads] = max(float(np.abs(r["keypoints"] - e["keypoints"]).max())
                                 for name in ("runtime", "runtime-list")
                                 for rs, es in zip(outputs[name], outputs["eager"]) for r, e in zip(rs, es))
            for name in contenders:
                seconds = statistics.median(walls[name])
                row = {"contender": name, "threads": threads, "images_per_s": len(images) / seconds,
                       "ms_per_image": 1e3 * seconds / len(images)}
                if name not in ("eager", "runtime-list"):
                    for stage, total in stages[name].items():
                        row[f"{stage}_ms_per_image"] = 1e3 * total / (args.repeat * len(images))
                rows.append(row)

    print(f"{len(images)} images ({crops} person boxes), model {meta.model} {meta.input_size[0]}x{meta.input_size[1]}, "
          f"median of {args.repeat} alternating passes; CPU {platform.machine()} x{os.cpu_count()}, "
          f"onnxruntime {ort.__version__}, torch {torch.__version__}")
    rtmlib_speed = {r["threads"]: r["images_per_s"] for r in rows if r["contender"] == "rtmlib"}
    print(f"{'contender':<13} {'threads':>7} {'img/s':>7} {'x rtmlib':>8} {'ms/img':>7} "
          f"{'preproc':>8} {'infer':>7} {'decode':>7}   (ms per image)")
    for r in rows:
        r["vs_rtmlib"] = r["images_per_s"] / rtmlib_speed[r["threads"]]
        parts = [f"{r[f'{s}_ms_per_image']:>{n}.2f}" if f"{s}_ms_per_image" in r else f"{'-':>{n}}"
                 for s, n in (("preprocess", 8), ("inference", 7), ("decode", 7))]
        print(f"{r['contender']:<13} {r['threads']:>7} {r['images_per_s']:>7.2f} {r['vs_rtmlib']:>8.2f} "
              f"{r['ms_per_image']:>7.1f} {' '.join(parts)}")
    print("runtime vs eager, largest keypoint difference: "
          + ", ".join(f"{d:.1e} px ({t} threads)" for t, d in diffs.items()))
    print(json.dumps({"benchmark": "runtime_speed", "model": meta.model, "input_size": list(meta.input_size),
                      "images": len(images), "boxes": crops, "repeat": args.repeat, "rows": rows,
                      "runtime_vs_eager_max_px": {str(t): d for t, d in diffs.items()}}))


if __name__ == "__main__":
    main()
