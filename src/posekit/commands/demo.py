"""`posekit demo`: the main job. First the shipped default model: poses drawn on the demo photos and
its PCK@0.2 on the LSP test split (whole image as the box, as a user runs it). Then a small top-down
model trained from scratch on LSP on CPU for a few minutes: its per-joint table, a prediction grid and
the training curve."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from posekit.commands import emit_json

REPO = Path(__file__).resolve().parents[3]
DEMO_CONFIG = REPO / "configs" / "demo_lsp.yaml"
LSP_URL = "http://sam.johnson.io/research/lsp_dataset.zip"  # the dataset's official download
# The person detector the demo draws multi-person photos with, when it lies beside the data (../shared/weights).
DETECTOR = "rtmdet_nano_person_end2end.onnx"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` verb."""
    p = sub.add_parser("demo", help="train a small model on LSP, evaluate PCK@0.2, draw predictions")
    p.add_argument("--data", help="LSP folder (joints.mat + images/); default: ../shared/data/lsp, "
                                  "else the official download into ~/.cache/posekit")
    p.add_argument("--config", default=str(DEMO_CONFIG), help="experiment YAML (default: configs/demo_lsp.yaml)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. train.epochs=2")
    p.add_argument("--fresh", action="store_true", help="ignore an earlier demo run's checkpoints")
    p.add_argument("--skip-training", action="store_true", help="show the shipped model only")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def find_lsp(explicit: str | None) -> Path:
    """The LSP folder: --data if given, else shared/data/lsp beside the working or repository folder,
    else a download into ~/.cache/posekit/lsp."""
    if explicit:
        root = Path(explicit)
        if not (root / "joints.mat").is_file():
            raise FileNotFoundError(f"{root}: not an LSP folder (no joints.mat)")
        return root
    for candidate in (Path.cwd().parent / "shared" / "data" / "lsp", REPO.parent / "shared" / "data" / "lsp"):
        if (candidate / "joints.mat").is_file():
            return candidate
    return download_lsp(Path.home() / ".cache" / "posekit" / "lsp")


def download_lsp(target: Path) -> Path:
    """Fetch and unpack the official LSP archive once (about 35 MB)."""
    import urllib.request
    import zipfile
    if (target / "joints.mat").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    archive = target / "lsp_dataset.zip"
    print(f"LSP not found locally; downloading {LSP_URL} -> {archive}")
    try:
        urllib.request.urlretrieve(LSP_URL, archive)
    except OSError as exc:
        raise FileNotFoundError(f"could not download LSP from {LSP_URL} ({exc}); download it by hand and "
                                "pass --data DIR (a folder with joints.mat and images/)") from None
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target)
    archive.unlink()
    if not (target / "joints.mat").is_file():
        raise FileNotFoundError(f"{target}: the LSP archive did not contain joints.mat")
    return target


def draw_photos(model, photos: Path, out: Path, found=None) -> list[str]:
    """Draw the model's poses on every photo in `photos` into `out` as PNGs; with `found` (the same model
    given a detector), on every person the detector finds, and the whole photo as the box where it finds
    nobody. Returns the written paths."""
    import cv2

    import posekit

    drawn = []
    for path in sorted(photos.glob("*")) if photos.is_dir() else []:
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = cv2.imread(str(path))
        persons = (found(image) if found is not None else []) or model(image)
        target = out / f"{path.stem}_pose.png"
        cv2.imwrite(str(target), posekit.draw(image, persons))
        drawn.append(str(target))
    return drawn


def show_shipped_model(lsp: Path, out: Path) -> dict:
    """The default model on the demo photos (drawn PNGs; every person the detector finds, when its file lies
    beside the data) and on the LSP test split (whole image as the box), as users run it."""
    import numpy as np

    import posekit
    from posekit.data.io import load_image
    from posekit.data.readers import read_lsp
    from posekit.evaluation.limbs import limb_index, limb_pck

    model = posekit.load()
    print(f"posekit demo, part 1: the shipped default model, {model}")
    out.mkdir(parents=True, exist_ok=True)
    detector = lsp.parent.parent / "weights" / DETECTOR
    found = posekit.load(detector=str(detector)) if detector.is_file() else None
    if found is not None:
        print(f"demo photos: persons found by {detector.name}; the whole photo where it finds nobody")
    drawn = draw_photos(model, lsp.parent / "images", out, found)
    data = read_lsp(lsp, "test")
    index = limb_index(data.keypoint_set.names)
    model_index = limb_index(model.keypoint_set.names)
    start = time.time()
    preds = [model(load_image(r.file_name), rgb=True)[0]["keypoints"][model_index] for r in data.records]
    seconds = time.time() - start
    gt = np.stack([r.persons[0].keypoints[index] for r in data.records])
    scores = limb_pck(np.stack(preds), gt)
    groups = ["shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total"]
    print(f"\nPCK@0.2 of the shipped model on the LSP test split ({len(data)} images, whole image as the box, "
          f"12 limb joints; {len(data) / seconds:.0f} images/s):")
    print("  " + "  ".join(f"{g:>8}" for g in groups))
    print("  " + "  ".join(f"{100 * scores[g]:8.1f}" for g in groups))
    print(f"drew {len(drawn)} demo photos -> {out}/\n")
    return {"pck_limbs": {g: round(scores[g], 4) for g in groups}, "drawn": drawn}


def run(args: argparse.Namespace) -> int:
    """Show the shipped model, then (unless --skip-training) train, evaluate and draw the demo model; returns 0.

    Prints PCK@0.2 tables; writes the drawings, predictions.png, curves.png and test_results.json
    under the config's out_dir.
    """
    import torch

    from posekit import experiment
    from posekit.config import load_config
    from posekit.data.io import load_image
    from posekit.visualize import draw_poses, image_grid, save_rgb

    lsp = find_lsp(args.data)
    cfg = load_config(args.config, [f"data.train={lsp}", f"data.val={lsp}", *args.overrides])
    out = Path(cfg.out_dir)
    shipped = show_shipped_model(lsp, out / "shipped")
    if args.skip_training:
        if args.json:
            emit_json({"shipped": shipped})
        return 0
    print(f"posekit demo, part 2: training {cfg.model.name} at {cfg.data.input_size[1]}x{cfg.data.input_size[0]} on LSP ({lsp}), "
          f"{cfg.train.epochs} epochs on {torch.get_num_threads()} CPU threads -> {out}")
    start = time.time()
    result = experiment.train(cfg, resume=False if args.fresh else "auto")
    train_minutes = (time.time() - start) / 60

    cfg_eval, estimator = experiment.load_experiment(out / "best.pt")
    data = experiment.load_split(cfg_eval, "val")
    loader = experiment.val_loader(cfg_eval, experiment.build_dataset(cfg_eval, data, estimator.codec, train=False))
    predictions = experiment.predict_all(estimator, loader, cfg.train.flip_test, torch.device("cpu"))
    metrics = experiment.build_evaluator(data).evaluate(predictions)
    experiment.write_results(predictions, out / "test_results.json")

    print(f"\nPCK@0.2 on the LSP test split ({len(data)} images), best epoch {result['best_epoch'] + 1}:")
    groups = ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total"]
    print("  " + "  ".join(f"{g:>8}" for g in groups))
    print("  " + "  ".join(f"{100 * metrics[g]:8.1f}" for g in groups))

    by_image = {p["image_id"]: p for p in predictions}
    shown = data.records[:: max(1, len(data.records) // 12)][:12]
    tiles = [draw_poses(load_image(r.file_name), [by_image[r.image_id]["keypoints"]], data.keypoint_set, 0.0)
             for r in shown if r.image_id in by_image]
    save_rgb(out / "predictions.png", image_grid(tiles, columns=4, cell=256,
                                                 captions=[Path(r.file_name).name for r in shown]))
    summary = {"shipped": shipped, "pck": {g: round(float(metrics[g]), 4) for g in groups}, "train_minutes": round(train_minutes, 2),
               "epochs": result["epochs"], "best_epoch": result["best_epoch"] + 1,
               "predictions_png": str(out / "predictions.png"), "curves_png": str(out / "curves.png"),
               "results": str(out / "test_results.json")}
    print(f"\ntraining took {train_minutes:.1f} min; wrote {summary['predictions_png']}, {summary['curves_png']}, "
          f"{summary['results']}")
    if args.json:
        emit_json(summary)
    return 0
