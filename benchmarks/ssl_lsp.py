"""Semi-supervised pose estimation on real data, side by side: supervised only, PoseDual, SSPCM and
SSPCM without Cut-Occlude. Labeled = LSP train (1,000), unlabeled = the LSPET images (8,000, labels
unused), test = LSP test (1,000), PCK@0.2. Same model, input, schedule and seed for every run
(configs/semi/lsp_*.yaml). Writes a table, results JSON and learning-curve PNG to --out.

    python benchmarks/ssl_lsp.py                 # the full benchmark (sized for ~90 min on 2 CPU cores)
    python benchmarks/ssl_lsp.py --quick         # a few iterations on a handful of images (CI)
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from posekit.cli import main as cli_main  # noqa: E402
from posekit.config import load_config  # noqa: E402
from posekit.experiment import train  # noqa: E402
from posekit.training.strategies.semi_common import quick_overrides  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RUNS = {"supervised": "lsp_base.yaml", "posedual": "lsp_posedual.yaml", "sspcm": "lsp_sspcm.yaml",
        "sspcm_no_cut_occlude": "lsp_sspcm_no_cut_occlude.yaml"}


def curve(metrics_path: Path, key: str) -> list[tuple[int, float]]:
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    return [(r["epoch"] + 1, r[f"val/{key}"]) for r in rows if r.get("type") == "epoch" and f"val/{key}" in r]


def from_log(metrics_path: Path) -> dict:
    """A run's results from its metrics.jsonl: last validation, best, per-epoch curve, minutes logged."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    epochs = [r for r in rows if r.get("type") == "epoch" and "val/PCK@0.2" in r]
    final = {k[4:]: v for k, v in epochs[-1].items() if k.startswith("val/")} if epochs else {}
    values = [r["val/PCK@0.2"] for r in epochs]
    # Training time: the sum of the gaps between log rows, leaving out gaps over 30 minutes (the time
    # a run stood still between being stopped and resumed, e.g. when it was extended later).
    gaps = [b["time"] - a["time"] for a, b in zip(rows, rows[1:])]
    return {"PCK": final.get("PCK@0.2"), "best_PCK": max(values) if values else None, "epochs": len(epochs),
            "minutes": sum(g for g in gaps if g < 1800) / 60,
            "final": final, "curve": curve(metrics_path, "PCK@0.2")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="folder with lsp/ and lspet/")
    parser.add_argument("--out", default="runs/ssl_lsp", help="output folder")
    parser.add_argument("--quick", action="store_true", help="a few iterations on a handful of images")
    parser.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every run, e.g. train.epochs=10 train.steps=[9] to extend "
                             "finished runs (copied to a new --out; they resume from last.pt)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line at the end")
    parser.add_argument("--unlabeled", choices=("boxes", "whole"), default="boxes",
                        help="boxes: person crops by the RTMDet-nano detector (made first with posekit detect into "
                             "--out); whole: the whole LSPET images")
    parser.add_argument("--detector", default=str(REPO.parent / "shared" / "weights" / "rtmdet_nano_person_end2end.onnx"))
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: tabulate the runs already under --out (e.g. of an interrupted benchmark)")
    args = parser.parse_args()
    out = Path(args.out)
    data = Path(args.data)
    results: dict[str, dict] = {}
    boxes = out / "lspet_person_boxes.json"
    if args.unlabeled == "boxes" and not args.report_only and not boxes.is_file() and set(args.runs) - {"supervised"}:
        # One crop per image: the detector's best person box (the labels stay unused).
        detect = ["detect", str(data / "lspet" / "images"), "--detector", args.detector, "--out", str(boxes),
                  "--max-per-image", "1", "--threads", "1"] + (["--limit", "8"] if args.quick else [])
        if cli_main(detect) != 0:
            return 1
    for name in args.runs:
        overrides = [f"out_dir={out / name}", f"data.train={data / 'lsp'}", f"data.val={data / 'lsp'}"]
        if name != "supervised" and args.unlabeled == "boxes":
            overrides += [f"strategy_params.unlabeled.path={boxes}", f"strategy_params.unlabeled.images={data / 'lspet' / 'images'}"]
        elif name != "supervised":
            overrides += ["strategy_params.unlabeled.format=lspet", f"strategy_params.unlabeled.path={data / 'lspet'}",
                          "strategy_params.unlabeled.images="]
        overrides += args.set
        if args.quick:
            overrides = quick_overrides(str(out / name)) + overrides[1:]
            if name == "supervised":
                overrides = [o for o in overrides if not o.startswith("strategy_params.")]
        metrics_path = out / name / "metrics.jsonl"
        if args.report_only:
            if not metrics_path.is_file():
                continue
            results[name] = from_log(metrics_path)
        else:
            cfg = load_config(REPO / "configs" / "semi" / RUNS[name], overrides)
            # resume="auto": re-running an interrupted benchmark finishes its runs instead of restarting.
            summary = train(cfg, resume="auto", progress=False)
            results[name] = from_log(metrics_path)
            results[name]["best_PCK"] = summary["best_metric"]
        print(f"{name}: PCK@0.2 {results[name]['PCK']} ({results[name]['minutes']:.1f} min)", flush=True)
    setting = {"quick": args.quick, "machine": platform.platform(), "processor": platform.processor(),
               "date": time.strftime("%Y-%m-%d"), "unlabeled": args.unlabeled,
               "command": "python benchmarks/ssl_lsp.py" + (" --quick" if args.quick else "")
               + (" --unlabeled whole" if args.unlabeled == "whole" else "")
               + (" --set " + " ".join(args.set) if args.set else "")}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"setting": setting, "results": results}, indent=1))
    lines = ["| run | epochs validated | PCK@0.2 (deliverable) | best | other networks | minutes |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        others = ", ".join(f"{k} {v:.3f}" for k, v in r["final"].items() if k.endswith("/PCK@0.2"))
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(f"| {name} | {r['epochs']} | {fmt(r['PCK'])} | {fmt(r['best_PCK'])} | {others or '-'} | "
                     f"{r['minutes']:.1f} |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results.items():
        if r["curve"]:
            ax.plot(*zip(*r["curve"]), marker="o", label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("LSP test PCK@0.2")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=100)
    print(table)
    if args.json:
        print(json.dumps({"setting": setting, "results": {k: {"PCK": v["PCK"], "best_PCK": v["best_PCK"]}
                                                          for k, v in results.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
