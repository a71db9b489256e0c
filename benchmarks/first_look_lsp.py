"""Where the first look goes, for a photo given with no person box: measured side by side.

The shipped default model reads a whole photo in three looks (inference.predictor): the whole photo, then a
crop around that pass's keypoints, then one around the second's. On LSPET the person is often a fifth of
the photo, so the first look sees a small person. This scores other first looks, each followed by the same
closer looks as shipped, from the same model on the same images (benchmarks/peers_lsp.py's sets and scorer:
PCK@0.2 of the torso over the 12 limb joints):
  whole       the whole photo (as shipped);
  tiles       the whole photo and five tiles of 0.6x its width and height (four corners, the centre),
              keeping the first look with the highest pose score;
  tiles-final the same six, each followed by its closer looks, keeping the highest final pose score;
  detector    RTMDet-nano's best-scoring person box (the whole photo where it finds none);
  either      the whole photo's line and those of RTMDet's two best boxes, the highest final pose score.

    .venv/bin/python benchmarks/first_look_lsp.py [--model FILE] [--lsp-test] [--limit N] [--json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers_lsp  # noqa: E402

from posekit.data.io import load_image  # noqa: E402

DETECTOR = peers_lsp.SHARED / "weights" / "rtmdet_nano_person_end2end.onnx"
VARIANTS = ("whole", "tiles", "tiles-final", "detector", "either")
TILE = 0.6


def tiles(width: int, height: int) -> np.ndarray:
    """(5, 5) boxes x, y, w, h, score: four corner tiles and a centre one, each TILE of the photo."""
    w, h = width * TILE, height * TILE
    corners = [(x, y) for x in (0.0, width - w) for y in (0.0, height - h)]
    return np.array([[x, y, w, h, 1.0] for x, y in corners + [((width - w) / 2, (height - h) / 2)]])


def first_looks(model, detector, paths: list[str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Variant -> (N, 12, 3) limb keypoints, and variant -> seconds spent on its own looks."""
    predictor = model.predictor
    index = [model.keypoint_set.names.index(n) for n in peers_lsp.LIMBS]
    out: dict[str, list[np.ndarray]] = {v: [] for v in VARIANTS}
    seconds = dict.fromkeys(VARIANTS, 0.0)

    @contextlib.contextmanager
    def timed(variant: str):
        start = time.perf_counter()
        yield
        seconds[variant] += time.perf_counter() - start

    for path in paths:
        image = load_image(path)
        height, width = image.shape[:2]
        with timed("whole"):
            whole = predictor._topdown(image, 0, np.array([[0.0, 0.0, width, height, 1.0]]), True)
            whole_line = predictor.closer_looks(image, 0, whole)
        with timed("tiles"):
            tile_looks = [whole] + [[r] for r in predictor._topdown(image, 0, tiles(width, height))]
            best_tile = predictor.closer_looks(image, 0, max(tile_looks, key=lambda r: r[0]["score"]))
        with timed("tiles-final"):
            tile_lines = [whole_line] + [predictor.closer_looks(image, 0, r) for r in tile_looks[1:]]
        with timed("detector"):
            boxes = detector(image)
            order = np.argsort(-boxes[:, 4])[:2] if len(boxes) else []
            box_lines = [predictor.closer_looks(image, 0, predictor._topdown(image, 0, boxes[i][None])) for i in order]
        picks = {"whole": whole_line, "tiles": best_tile,
                 "tiles-final": max(tile_lines, key=lambda r: r[0]["score"]),
                 "detector": box_lines[0] if box_lines else whole_line,
                 "either": max([whole_line] + box_lines, key=lambda r: r[0]["score"])}
        for variant, results in picks.items():
            out[variant].append(results[0]["keypoints"][index])
    # Shared work counts for every variant that uses it: tiles and tiles-final start from the whole look,
    # "either" runs the whole line and the detector's.
    spent = {"whole": seconds["whole"], "tiles": seconds["whole"] + seconds["tiles"],
             "tiles-final": seconds["whole"] + seconds["tiles"] + seconds["tiles-final"],
             "detector": seconds["detector"], "either": seconds["whole"] + seconds["detector"]}
    return {v: np.stack(k) for v, k in out.items()}, spent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="a model file with refine on (default: the shipped model)")
    p.add_argument("--lsp-test", action="store_true", help="also score LSP test (1,001-2,000)")
    p.add_argument("--limit", type=int, default=0, help="first N images of each set (0 = all 1,000)")
    p.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = p.parse_args(argv)
    import posekit
    from posekit.inference.detector import PersonDetector
    if not DETECTOR.is_file():
        raise SystemExit(f"first_look_lsp: {DETECTOR} not found (the person detector of ../shared/weights)")
    model, detector = posekit.load(args.model), PersonDetector(DETECTOR)
    if not model.predictor.refine:
        raise SystemExit("first_look_lsp: this model file has refine off; the closer looks are what is compared")
    sets = peers_lsp.test_sets(args.limit)
    names = ["LSPET 7001-8000"] + (["LSP test"] if args.lsp_test else [])
    results: dict[str, dict[str, float]] = {}
    print(f"| first look | {' | '.join(names)} | seconds per image ({names[0]}) |\n|---|" + "---|" * (len(names) + 1))
    rows: dict[str, list[str]] = {v: [] for v in VARIANTS}
    for name in names:
        paths, gt = sets[name]
        preds, spent = first_looks(model, detector, paths)
        for variant in VARIANTS:
            results.setdefault(variant, {})[name] = round(peers_lsp.score(preds[variant], gt)["total"], 4)
            rows[variant].append(f"{results[variant][name]:.4f}")
            if name == names[0]:
                results[variant]["seconds_per_image"] = round(spent[variant] / len(paths), 4)
    for variant in VARIANTS:
        print(f"| {variant} | {' | '.join(rows[variant])} | {results[variant]['seconds_per_image']:.3f} |")
    if args.json:
        print(json.dumps({"model": args.model or "default", "pck_limbs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
