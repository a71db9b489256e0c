"""DWPose distillation measured on LSP: does an rtmpose-t student gain from a stronger teacher?

The teacher is posekit's shipped default model (rtmpose-t 128x128 trained for 3,750 iterations on
LSP train + LSPET 1-7,000; `--teacher-file` takes another model file or checkpoint), or with
`--teacher NAME` a zoo model trained here first. Three student runs on the same data and schedule:
  student     rtmpose-t, supervised alone
  stage1      rtmpose-t distilled from the teacher (L_gt + r(t)(L_fea + L_logit))
  stage2      stage 1's model distilled into a new head on its frozen backbone (logit loss only,
              round(0.22 x epochs) epochs), i.e. the merged deployable model
Train data: LSP train + the first --lspet-limit LSPET images (at most 7,000); each run is scored at
the end on LSP test and LSPET 7,001-8,000 (the dataset's joint boxes, flip test), and the teacher
beside them; LSP test after every epoch gives the curves. Each run writes OUT/RUN/test.json; table.md,
results.json and curves.png sum them up.

    python benchmarks/distill_lsp.py --lspet-limit 1000          # the measured CPU setting
    python benchmarks/distill_lsp.py --report-only --json        # {"runs": {RUN: {TEST_SET: PCK}}}
    python benchmarks/distill_lsp.py --quick                     # end-to-end smoke run (a few iterations)
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
from posekit.experiment import load_pretrained, make_evaluate_fn, predict_all, val_loader
from posekit.training.checkpoint import load_checkpoint
from posekit.training.distributed import make_sampler
from posekit.training.engine import Trainer, seed_everything
from posekit.training.strategies import SupervisedStrategy
from posekit.training.strategies.distill import DistillParams, DistillStrategy

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEACHER = REPO / "src" / "posekit" / "weights" / "default_body.pt"
QUICK = ["train.epochs=2", "train.max_iters_per_epoch=3", "data.max_val_samples=16", "train.warmup_iters=2",
         "data.batch_size=8", "data.workers=0"]
RUNS = ("student", "stage1", "stage2")
TEST_SETS = ("lsp_test", "lspet_7001_8000")
LSPET_TRAIN_LAST = 7000  # LSPET 7,001-8,000 is a test set; never trained on


def estimator(cfg: ExperimentConfig, model: str, codec: dict | None) -> TopDownEstimator:
    return build_topdown_estimator(model, cfg.data.keypoint_set, tuple(cfg.data.input_size), codec)


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
    return {"curve": pck, "epochs": epochs, "seconds": round(time.time() - start, 1)}


def test_scores(est: TopDownEstimator, cfg: ExperimentConfig, tests: dict[str, PoseData]) -> dict[str, float]:
    """PCK@0.2 on each test set, flip test as configured."""
    scores = {}
    for name, data in tests.items():
        loader = val_loader(cfg, TopDownDataset(data, cfg.data.input_size, est.codec, train=False))
        predictions = predict_all(est.eval(), loader, cfg.train.flip_test, torch.device("cpu"))
        scores[name] = float(PCKEvaluator(data, data.keypoint_set, alpha=0.2, name=name).evaluate(predictions)["PCK@0.2"])
    return scores


def plot(results: dict[str, dict], path: Path, metric: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    offset = {"stage2": results.get("stage1", {}).get("epochs", 0)}  # stage 2 continues from stage 1's model
    for name, r in results.items():
        if not r.get("curve"):
            continue
        start = offset.get(name, 0)
        ax.plot(range(start + 1, start + len(r["curve"]) + 1), r["curve"], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (LSP test)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(out: Path) -> dict[str, Any]:
    """The measured table, from each run's test.json (the teacher's, the three runs', then any ablation's)."""
    runs = {}
    ablations = sorted(p.parent.name for p in out.glob("stage1_*/test.json"))
    for name in ("teacher", *RUNS, *ablations):
        if (out / name / "test.json").is_file():
            runs[name] = json.loads((out / name / "test.json").read_text())
    setting = json.loads((out / "setting.json").read_text()) if (out / "setting.json").is_file() else {}
    return {"setting": setting, "runs": runs}


def table(rep: dict[str, Any]) -> str:
    rows = ["| run | model | epochs | LSP test | LSPET 7,001-8,000 | minutes |", "|---|---|---|---|---|---|"]
    for name, r in rep["runs"].items():
        rows.append(f"| {name} | {r['model']} | {r.get('epochs', '-')} | {r['scores']['lsp_test']:.4f} | "
                    f"{r['scores']['lspet_7001_8000']:.4f} | {r.get('minutes', '-')} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs/dwpose/lsp_benchmark.yaml"))
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--lspet", default=str(REPO.parent / "shared/data/lspet"))
    p.add_argument("--lspet-limit", type=int, default=1000,
                   help=f"train on the first N LSPET images (at most {LSPET_TRAIN_LAST:,}) besides LSP train")
    p.add_argument("--teacher-file", default=str(DEFAULT_TEACHER),
                   help="the teacher: a posekit model file or checkpoint (default: the shipped default model); "
                        "its input size, codec and keypoint set set the students'")
    p.add_argument("--teacher", default="", help="instead: train this zoo model as the teacher first")
    p.add_argument("--student", default="rtmpose-t")
    p.add_argument("--out", default="runs/distill_lsp")
    p.add_argument("--quick", action="store_true", help="a few iterations per run: checks the pipeline only")
    p.add_argument("--report-only", action="store_true", help="train nothing: report the runs under --out")
    p.add_argument("--json", action="store_true", help='print {"runs": {RUN: {TEST_SET: PCK}}} as the last line')
    p.add_argument("--ablation", default="", metavar="NAME",
                   help="train only a stage-1 variant, OUT/stage1_NAME, with --stage1 params (the teacher "
                        "and the student alone of an earlier run under --out are reused)")
    p.add_argument("--stage1", action="append", default=[], metavar="KEY=VALUE",
                   help="a stage-1 DistillParams value, e.g. feature_weight=0, logit_weight=0 or teacher_bn=eval "
                        "(repeat for several)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if not args.report_only:
        measure(args, out, argv)
    rep = report(out)
    print(table(rep))
    if args.json:
        print(json.dumps({"runs": {k: v["scores"] for k, v in rep["runs"].items() if k in RUNS}}))
    return 0


def stage1_params(pairs: list[str]) -> DistillParams:
    """DistillParams(stage=1) with KEY=VALUE pairs applied; a ConfigError names an unknown key."""
    import yaml
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in DistillParams.__dataclass_fields__ or key in ("stage", "teacher"):
            raise SystemExit(f"--stage1 {pair}: expected KEY=VALUE with KEY among feature_weight, logit_weight, "
                             "beta, teacher_bn")
        values[key] = yaml.safe_load(value)
    params = DistillParams(stage=1, **values)
    params.check()
    return params


def measure(args: argparse.Namespace, out: Path, argv: list[str] | None) -> None:
    params = stage1_params(args.stage1)
    overrides = list(args.overrides)
    teacher_codec: dict | None = None
    if not args.teacher:
        from posekit.inference.model_file import is_model_file
        from posekit.models.safe_load import load_weights_only
        state = load_weights_only(args.teacher_file, "teacher")
        if is_model_file(state):  # the student takes the teacher's input size and codec
            w, h = state["input_size"]
            overrides = [f"data.input_size=[{w}, {h}]", f"data.keypoint_set={state['keypoint_set']}", *overrides]
            teacher_codec, teacher_model = dict(state["codec"]), state["model"]
        else:
            teacher_model = state.get("metadata", {}).get("experiment", {}).get("model", {}).get("name", args.student)
    else:
        teacher_model = args.teacher
    cfg = load_config(args.config, (QUICK if args.quick else []) + overrides)
    lsp = read_lsp(cfg.data.train, "train")
    lspet = read_lspet(args.lspet)
    limit = 64 if args.quick else min(args.lspet_limit, LSPET_TRAIN_LAST)
    train_data = PoseData(lsp.records + [r for r in lspet.records if r.image_id <= limit], lsp.keypoint_set,
                          f"LSP train + LSPET 1-{limit}")
    tests = {"lsp_test": read_lsp(cfg.data.val, "test"),
             "lspet_7001_8000": replace(lspet, records=[r for r in lspet.records if r.image_id > LSPET_TRAIN_LAST])}
    if cfg.data.max_val_samples:
        tests = {k: replace(v, records=v.records[:cfg.data.max_val_samples]) for k, v in tests.items()}
    est = estimator(cfg, args.student, teacher_codec)
    train_set = TopDownDataset(train_data, cfg.data.input_size, est.codec, augment=cfg.data.augment, train=True,
                               seed=cfg.train.seed)
    curve_data = tests["lsp_test"]
    evaluator = PCKEvaluator(curve_data, curve_data.keypoint_set, alpha=0.2, name="LSP test")
    evaluate = make_evaluate_fn(val_loader(cfg, TopDownDataset(curve_data, cfg.data.input_size, est.codec,
                                                               train=False)), evaluator, torch.device("cpu"))
    cfg = replace(cfg, train=replace(cfg.train, metric=evaluator.default_metric))
    epochs = cfg.train.epochs
    stage2_epochs = max(1, round(0.22 * epochs))
    out.mkdir(parents=True, exist_ok=True)
    setting_file = out / (f"stage1_{args.ablation}/setting.json" if args.ablation else "setting.json")
    setting_file.parent.mkdir(parents=True, exist_ok=True)
    setting_file.write_text(json.dumps({
        "command": " ".join(["python", "benchmarks/distill_lsp.py", *(argv if argv is not None else sys.argv[1:])]),
        "input": list(cfg.data.input_size), "epochs": epochs, "stage2_epochs": stage2_epochs,
        "train_images": len(train_data), "date": time.strftime("%Y-%m-%d"), "quick": args.quick,
        "teacher": args.teacher or args.teacher_file, "stage1": args.stage1}, indent=1))

    def save(name: str, model: str, est: TopDownEstimator, run: dict[str, Any] | None) -> None:
        (out / name).mkdir(parents=True, exist_ok=True)
        record = {"model": model, "scores": test_scores(est, cfg, tests)}
        if run:
            record |= {"epochs": run["epochs"], "minutes": round(run["seconds"] / 60, 1), "curve": run["curve"]}
        (out / name / "test.json").write_text(json.dumps(record, indent=1))
        print(f"{name}: {record['scores']}", flush=True)

    if args.ablation:  # one stage-1 variant beside an earlier run's teacher and student
        teacher = estimator(cfg, teacher_model, teacher_codec)
        load_pretrained(teacher, args.teacher_file if not args.teacher else out / "teacher" / "last.pt")
        name = f"stage1_{args.ablation}"
        strategy = DistillStrategy(estimator(cfg, args.student, teacher_codec), teacher, params, epochs)
        run = train_run(name, cfg, strategy, train_set, evaluate, out, epochs)
        save(name, f"{args.student} (from the teacher; {' '.join(args.stage1)})",
             load_weights(estimator(cfg, args.student, teacher_codec), out / name), run)
        return
    if args.teacher:  # train a teacher here first
        run = train_run("teacher", cfg, SupervisedStrategy(estimator(cfg, args.teacher, None)), train_set, evaluate,
                        out, epochs)
        teacher = load_weights(estimator(cfg, args.teacher, None), out / "teacher")
        save("teacher", args.teacher, teacher, run)
    else:
        teacher = estimator(cfg, teacher_model, teacher_codec)
        print(f"teacher: {load_pretrained(teacher, args.teacher_file)}", flush=True)
        save("teacher", f"{teacher_model} ({Path(args.teacher_file).name})", teacher, None)
    run = train_run("student", cfg, SupervisedStrategy(estimator(cfg, args.student, teacher_codec)), train_set,
                    evaluate, out, epochs)
    save("student", args.student, load_weights(estimator(cfg, args.student, teacher_codec), out / "student"), run)
    stage1 = DistillStrategy(estimator(cfg, args.student, teacher_codec), teacher, params, epochs)
    run = train_run("stage1", cfg, stage1, train_set, evaluate, out, epochs)
    distilled = load_weights(estimator(cfg, args.student, teacher_codec), out / "stage1")
    save("stage1", f"{args.student} (from the teacher)", distilled, run)
    stage2 = DistillStrategy(estimator(cfg, args.student, teacher_codec), distilled, DistillParams(stage=2),
                             stage2_epochs)
    run = train_run("stage2", cfg, stage2, train_set, evaluate, out, stage2_epochs)
    merged = load_weights(estimator(cfg, args.student, teacher_codec), out / "stage2")
    save("stage2", f"{args.student} (stage 1 + head)", merged, run)
    plot({k: json.loads((out / k / "test.json").read_text()) for k in RUNS}, out / "curves.png", "PCK@0.2")


if __name__ == "__main__":
    sys.exit(main())
