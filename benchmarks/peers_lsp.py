"""posekit's default model beside the models users would pick instead, on LSP-style photos.

Each model sees the whole image, letterboxed as it expects (no detector, no ground-truth box):
  - posekit's shipped default model (`posekit.load()`), its own preprocessing and flip test;
  - MoveNet Lightning v4 int8 (../shared/weights, run with `ai-edge-litert`): 192x192 letterbox;
  - MediaPipe Pose, BlazePose full (`--mediapipe-python` a side virtualenv's python with
    mediapipe==0.10.21; it finds the person itself);
  - with `--detector`, an extra row outside that protocol: posekit's default model on the boxes of
    RTMDet-nano (../shared/weights), the person with the best pose score, the whole image where the
    detector finds none. It measures what finding the person first buys.
Scored on the 1,000 LSP test images (1,001-2,000) and on LSPET 7,001-8,000 (posekit's held-out
validation part: never trained on): PCK@0.2 of the torso (right shoulder - left hip) over the 12 limb
joints that COCO-17, LSP-14 and BlazePose share by name, per joint group, plus images/s of each
(model time only: preprocessing + inference + decoding; reading the JPEG is left out for all). Each
runs as a user would run it from Python: posekit with torch's default OpenMP settings (the `posekit`
command sets OMP_WAIT_POLICY=PASSIVE for shared machines, which halved this model's rate here), MoveNet
through LiteRT with 2 threads, MediaPipe in its own process.

    .venv/bin/python benchmarks/peers_lsp.py [--limit N] [--mediapipe-python /path/to/python]
    .venv/bin/python benchmarks/peers_lsp.py --report-only --json   # the last saved table
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from posekit.data.io import load_image  # noqa: E402
from posekit.data.readers import read_lsp, read_lspet  # noqa: E402
from posekit.evaluation.limbs import LIMB_JOINTS, limb_pck  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSEKIT_SHARED", REPO.parent / "shared")).resolve()
RESULTS = REPO / "docs" / "results" / "peers_lsp.json"
LIMBS = LIMB_JOINTS
COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
          "right_knee", "left_ankle", "right_ankle")
BLAZEPOSE = {"left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14, "left_wrist": 15,
             "right_wrist": 16, "left_hip": 23, "right_hip": 24, "left_knee": 25, "right_knee": 26,
             "left_ankle": 27, "right_ankle": 28}


# ------------------------------------------------------------------------------------------- data
def test_sets(limit: int) -> dict[str, tuple[list[str], np.ndarray]]:
    """name -> (image paths, GT (N, 12, 3) x, y, v in LIMBS order)."""
    lsp = read_lsp(SHARED / "data" / "lsp", "test")
    lspet = read_lspet(SHARED / "data" / "lspet")
    sets = {"LSP test": lsp.records, "LSPET 7001-8000": [r for r in lspet.records if r.image_id > 7000]}
    return limb_sets(sets, lsp.keypoint_set.names, limit)


def limb_sets(sets: dict[str, list], names: Sequence[str], limit: int) -> dict[str, tuple[list[str], np.ndarray]]:
    """name -> one-person records (keypoints named `names`) -> (image paths, GT (N, 12, 3) in LIMBS order),
    the first `limit` records of each (0: all)."""
    index = [list(names).index(n) for n in LIMBS]
    out = {}
    for name, records in sets.items():
        records = records[:limit] if limit else records
        out[name] = ([r.file_name for r in records], np.stack([r.persons[0].keypoints[index] for r in records]))
    return out


def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """PCK@0.2 of the torso (right shoulder - left hip) over the 12 limb joints, and per group."""
    return limb_pck(pred, gt, 0.2)


# ----------------------------------------------------------------------------------------- models
def run_posekit(paths: list[str], model: str | None = None, detector: str | None = None,
                boxes: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, float]:
    """boxes: one (1, 4) x, y, w, h per image, given to the model instead of the whole image or a detector."""
    import posekit
    whole_image = posekit.load(model)
    found = posekit.load(model, detector=detector) if detector else None
    names = whole_image.keypoint_set.names
    index = [names.index(n) for n in LIMBS]
    preds, seconds = [], 0.0
    for i, path in enumerate(paths):
        image = load_image(path)
        start = time.perf_counter()
        if boxes is not None:
            persons = whole_image(image, boxes=boxes[i], rgb=True)
        else:
            persons = found(image, rgb=True) if found is not None else []
        if not persons:  # no detector, or nobody found: the whole image as the box (and its refine step)
            persons = whole_image(image, rgb=True)
        seconds += time.perf_counter() - start
        best = max(persons, key=lambda person: person["score"]) if persons else None
        preds.append(best["keypoints"][index] if best is not None else np.full((12, 3), np.nan))
    return np.stack(preds), seconds


def run_movenet(paths: list[str], threads: int = 2) -> tuple[np.ndarray, float]:
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(SHARED / "weights" / "movenet_singlepose_lightning_int8_4.tflite"),
                              num_threads=threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    size = int(inp["shape"][1])
    index = [COCO17.index(n) for n in LIMBS]
    preds, seconds = [], 0.0
    for path in paths:
        image = load_image(path)
        start = time.perf_counter()
        h, w = image.shape[:2]
        side = max(h, w)  # letterbox: pad to a centred square, then resize
        top, left = (side - h) // 2, (side - w) // 2
        square = cv2.copyMakeBorder(image, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=0)
        x = cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR)[None].astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        yxs = interpreter.get_tensor(out["index"])[0, 0]
        kpts = np.stack([yxs[:, 1] * side - left, yxs[:, 0] * side - top, yxs[:, 2]], axis=1)
        seconds += time.perf_counter() - start
        preds.append(kpts[index])
    return np.stack(preds), seconds


def run_mediapipe(paths: list[str], python: str) -> tuple[np.ndarray, float]:
    with tempfile.TemporaryDirectory() as tmp:
        listing, result = Path(tmp) / "images.txt", Path(tmp) / "out.json"
        listing.write_text("\n".join(paths))
        subprocess.run([python, str(Path(__file__).with_name("_mediapipe_worker.py")), str(listing), str(result)],
                       check=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
        data = json.loads(result.read_text())
    index = [BLAZEPOSE[n] for n in LIMBS]
    preds = [np.asarray(lm, dtype=np.float64)[index] if lm else np.full((12, 3), np.nan) for lm in data["landmarks"]]
    return np.stack(preds), float(data["seconds"])


def model_runners(specs: list[str], mediapipe_python: str | None) -> dict:
    """name -> runner for the benchmarks that score the default model (or the model files given as
    NAME=FILE specs) beside MoveNet Lightning and, with a side python, MediaPipe on images of their own."""
    runners = {}
    for spec in specs or ["posekit default=default"]:
        name, _, file = spec.partition("=")
        if not file:
            raise SystemExit(f"--model {spec}: give NAME=FILE")
        runners[name] = (lambda paths, file=file: run_posekit(paths, None if file == "default" else file))
    runners["MoveNet Lightning int8"] = run_movenet
    if mediapipe_python:
        runners["MediaPipe BlazePose full"] = lambda paths: run_mediapipe(paths, mediapipe_python)
    return runners


def score_runners(runners: dict, paths: list[str], gt: np.ndarray, groups: tuple[str, ...],
                  torso: np.ndarray | None = None) -> dict:
    """name -> PCK@0.2 per group, total, joints counted and images/s of each runner on `paths`."""
    rows = {}
    for name, fn in runners.items():
        pred, seconds = fn(paths)
        pck = limb_pck(pred, gt, 0.2, torso)
        rows[name] = {**{k: pck[k] for k in (*groups, "total", "counted")}, "images_per_s": round(len(paths) / seconds, 2)}
        print(f"{name}: PCK {pck['total']:.3f}", file=sys.stderr)
    return rows


# ------------------------------------------------------------------------------------------ report
def rows_table(title: str, rows: dict, columns: tuple[str, ...]) -> str:
    """One row per model: PCK per column (in %), then images/s."""
    lines = [f"\n{title}", f"  {'model':<28}" + "".join(f"{c:>9}" for c in (*columns, "img/s"))]
    for name, row in rows.items():
        lines.append(f"  {name:<28}" + "".join(f"{100 * row[c]:9.1f}" for c in columns) + f"{row['images_per_s']:9.1f}")
    return "\n".join(lines)


def table(runs: dict) -> str:
    cols = ["shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total"]
    lines = []
    for test_set in next(iter(runs.values()))["pck"]:
        lines.append(f"\nPCK@0.2 (torso) on {test_set}, 12 limb joints:")
        lines.append(f"  {'model':<24}" + "".join(f"{c:>9}" for c in cols) + f"{'img/s':>9}")
        for name, run in runs.items():
            row = run["pck"][test_set]
            lines.append(f"  {name:<24}" + "".join(f"{100 * row[c]:9.1f}" for c in cols)
                         + f"{run['images_per_s'][test_set]:9.1f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=0, help="first N images of each set (0 = all 1,000)")
    p.add_argument("--mediapipe-python", help="a python with mediapipe==0.10.21 (side virtualenv)")
    p.add_argument("--detector", nargs="?", const=str(SHARED / "weights" / "rtmdet_nano_person_end2end.onnx"),
                   help="add a row: posekit's default model on RTMDet-nano's boxes (default: ../shared/weights)")
    p.add_argument("--report-only", action="store_true", help=f"print the last saved table ({RESULTS.name})")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args()
    if args.report_only:
        saved = json.loads(RESULTS.read_text())
        print(table(saved["runs"]))
        if args.json:
            print(json.dumps(saved))
        return
    models = {"posekit default": run_posekit, "MoveNet Lightning int8": run_movenet}
    if args.mediapipe_python:
        models["MediaPipe BlazePose full"] = lambda paths: run_mediapipe(paths, args.mediapipe_python)
    if args.detector:
        models["posekit default + RTMDet"] = lambda paths: run_posekit(paths, detector=args.detector)
    runs: dict = {name: {"pck": {}, "images_per_s": {}} for name in models}
    for test_set, (paths, gt) in test_sets(args.limit).items():
        for name, fn in models.items():
            pred, seconds = fn(paths)
            runs[name]["pck"][test_set] = score(pred, gt)
            runs[name]["images_per_s"][test_set] = round(len(paths) / seconds, 2)
            print(f"{name} on {test_set}: PCK {runs[name]['pck'][test_set]['total']:.3f}, "
                  f"{runs[name]['images_per_s'][test_set]:.1f} img/s", file=sys.stderr)
    saved = {"runs": runs, "date": str(date.today()), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
             "command": " ".join(["python", "benchmarks/peers_lsp.py", *sys.argv[1:]]), "limit": args.limit}
    print(table(runs))
    if not args.limit:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(saved, indent=1))
    if args.json:
        print(json.dumps(saved))


if __name__ == "__main__":
    main()
