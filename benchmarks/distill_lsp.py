"""DWPose distillation measured on LSP: does an rtmpose-t student gain from a trained rtmpose-m?

Four runs on the same data (LSP train + LSPET) and schedule, PCK@0.2 on the LSP test split after
every epoch:
  teacher     rtmpose-m, supervised
  alone       rtmpose-t, supervised
  stage1      rtmpose-t distilled from the teacher (L_gt + r(t)(L_fea + L_logit))
  stage2      stage 1's model distilled into a new head on its frozen backbone (logit loss only,
              round(0.22 x epochs) epochs), i.e. the merged deployable model
Writes table.md, results.json and curves.png under --out, and prints the table and one JSON line.

    python benchmarks/distill_lsp.py --lspet-limit 1000   # the measured CPU setting: ~42 min on 2 cores
    python benchmarks/distill_lsp.py                 # all 8,000 LSPET images (about 4x longer; not timed)
    python benchmarks/distill_lsp.py --quick         # end-to-end smoke run (a few iterations)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from posekit.config import ExperimentConfig, load_config
from posekit.data.datasets import TopDownDataset
from posekit.data.readers import read_lsp, read_lspet
from posekit.data.records import PoseData
from posekit.estimators.topdown import TopDownEstimator, build_topdown_estimator
from posekit.evaluation.pck import PCKEvaluator
from posekit.experiment import make_evaluate_fn, val_loader
from posekit.training.checkpoint import load_checkpoint
from posekit.training.distributed import make_sampler
from posekit.training.engine import Trainer, seed_everything
from posekit.training.strategies import SupervisedStrategy
from posekit.training.strategies.distill import DistillParams, DistillStrategy

REPO = Path(__file__).resolve().parents[1]
QUICK = ["train.epochs=2", "train.max_iters_per_epoch=3", "data.max_val_samples=64", "train.warmup_iters=2",
         "data.batch_size=8", "data.workers=0"]


def estimator(cfg: ExperimentConfig, model: str) -> TopDownEstimator:
    return build_topdown_estimator(model, cfg.data.keypoint_set, tuple(cfg.data.input_size))


def load_weights(est: TopDownEstimator, run_dir: Path) -> TopDownEstimator:
    est.load_state_dict(load_checkpoint(run_dir / "last.pt")["estimator"])
    return est


def train_run(name: str, cfg: ExperimentConfig, strategy: Any, train_set: Any, evaluate: Any, out: Path,
              epochs: int) -> dict[str, Any]:
    seed_everything(cfg.train.seed)
    sampler = make_sampler(train_set, cfg.train.seed, shuffle=True, drop_last=True)
    loader = DataLoader(train_set, batch_size=cfg.data.batch_size, sampler=sampler, num_workers=cfg.data.workers,
                        drop_last=True)
    train_cfg = replace(cfg.train, epochs=epochs)
    start = time.time()
    result = Trainer(train_cfg, strategy, loader, out / name, evaluate=evaluate, train_sampler=sampler,
                     device="cpu").fit()
    curve = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines()]
    pck = [row[f"val/{result['metric']}"] for row in curve if row["type"] == "epoch"]
    print(f"{name}: {result['metric']} {pck[-1]:.4f} after {epochs} epochs, {time.time() - start:.0f} s",
          flush=True)
    return {"final": pck[-1], "curve": pck, "epochs": epochs, "seconds": round(time.time() - start, 1)}


def plot(results: dict[str, dict], path: Path, metric: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    offset = {"stage2": results["stage1"]["epochs"]}  # stage 2 continues from stage 1's model
    for name, r in results.items():
        start = offset.get(name, 0)
        ax.plot(range(start + 1, start + len(r["curve"]) + 1), r["curve"], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (LSP test)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs/dwpose/lsp_benchmark.yaml"))
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--lspet", default=str(REPO.parent / "shared/data/lspet"))
    p.add_argument("--lspet-limit", type=int, default=0,
                   help="use only the first N LSPET images (0 = all 8,000): a shorter run on 2 CPU cores")
    p.add_argument("--teacher", default="rtmpose-m")
    p.add_argument("--student", default="rtmpose-t")
    p.add_argument("--out", default="runs/distill_lsp")
    p.add_argument("--quick", action="store_true", help="a few iterations per run: checks the pipeline only")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    cfg = load_config(args.config, (QUICK if args.quick else []) + args.overrides)
    out = Path(args.out)
    lsp = read_lsp(cfg.data.train, "train")
    lspet = read_lspet(args.lspet, limit=64 if args.quick else (args.lspet_limit or None))
    train_data = PoseData(lsp.records + lspet.records, lsp.keypoint_set, "LSP train + LSPET")
    test_data = read_lsp(cfg.data.val, "test")
    if cfg.data.max_val_samples:
        test_data = replace(test_data, records=test_data.records[:cfg.data.max_val_samples])
    est = estimator(cfg, args.student)
    train_set = TopDownDataset(train_data, cfg.data.input_size, est.codec, augment=cfg.data.augment, train=True,
                               seed=cfg.train.seed)
    test_set = TopDownDataset(test_data, cfg.data.input_size, est.codec, train=False)
    evaluator = PCKEvaluator(test_data, test_data.keypoint_set, alpha=0.2, name="LSP test")
    evaluate = make_evaluate_fn(val_loader(cfg, test_set), evaluator, torch.device("cpu"))
    cfg = replace(cfg, train=replace(cfg.train, metric=evaluator.default_metric))
    epochs = cfg.train.epochs
    stage2_epochs = max(1, round(0.22 * epochs))

    results: dict[str, dict] = {}
    results["teacher"] = train_run("teacher", cfg, SupervisedStrategy(estimator(cfg, args.teacher)), train_set,
                                   evaluate, out, epochs)
    results["alone"] = train_run("alone", cfg, SupervisedStrategy(estimator(cfg, args.student)), train_set,
                                 evaluate, out, epochs)
    teacher = load_weights(estimator(cfg, args.teacher), out / "teacher")
    stage1 = DistillStrategy(estimator(cfg, args.student), teacher, DistillParams(stage=1), epochs)
    results["stage1"] = train_run("stage1", cfg, stage1, train_set, evaluate, out, epochs)
    distilled = load_weights(estimator(cfg, args.student), out / "stage1")
    stage2 = DistillStrategy(estimator(cfg, args.student), distilled, DistillParams(stage=2), stage2_epochs)
    results["stage2"] = train_run("stage2", cfg, stage2, train_set, evaluate, out, stage2_epochs)

    metric = evaluator.default_metric
    rows = [f"| run | model | epochs | {metric} | minutes |", "|---|---|---|---|---|"]
    models = {"teacher": args.teacher, "alone": args.student, "stage1": f"{args.student} (from {args.teacher})",
              "stage2": f"{args.student} (stage 1 + head)"}
    for name, r in results.items():
        rows.append(f"| {name} | {models[name]} | {r['epochs']} | {r['final']:.4f} | {r['seconds'] / 60:.1f} |")
    table = "\n".join(rows)
    h, w = cfg.data.input_size[1], cfg.data.input_size[0]
    summary = {"input": f"{h}x{w}", "epochs": epochs, "stage2_epochs": stage2_epochs, "quick": args.quick,
               "train_images": len(train_data), "test_images": len(test_data), "metric": metric,
               "command": " ".join(["python", "benchmarks/distill_lsp.py", *(argv if argv is not None else sys.argv[1:])]),
               "results": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    plot(results, out / "curves.png", metric)
    print(table)
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}
                     | {name: r["final"] for name, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
