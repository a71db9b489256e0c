"""Semi-supervised pose estimation on real data, side by side, in the papers' setting: the labeled and
unlabeled parts come from one distribution and every network starts from one supervised model.

  pool       LSP train (1,000) + LSPET images 1-7,000, each person cropped to its joints' box
  labeled    N images drawn from the pool (seeded)
  unlabeled  the rest of LSPET 1-7,000; its labels are held back, read only to score pseudo-labels
  start      one supervised model trained on the labeled part only (the stand-in for the papers'
             ImageNet start, which this machine cannot get)
  runs       from that start, the same iterations each: supervised (continued), posedual, sspcm,
             sspcm_no_cut_occlude; an epoch is one pass over the unlabeled pool
  test       LSP test (1,001-2,000) and LSPET 7,001-8,000, the labelled joints' box as the person box
             (the papers evaluate with ground-truth boxes), PCK@0.2 of the torso, no flip test

Each run's per-epoch log (metrics.jsonl) holds the LSP test curve, the pseudo-labels' PCK against the
held-back labels (stats/pseudo_pck/...) and SSPCM's masked share; test.json holds the final scores.

    python benchmarks/ssl_lsp.py --labeled 1000 --out runs/ssl_lsp/n1000     # the measured setting
    python benchmarks/ssl_lsp.py --report-only --out runs/ssl_lsp/n1000 --json
    python benchmarks/ssl_lsp.py --quick --out /tmp/ssl_quick                 # a smoke run (CI)

`--report-only --json` prints, as the last line, {"runs": {RUN: {TEST_SET: PCK}}} read from the runs'
test.json files.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from posekit import experiment
from posekit.config import load_config
from posekit.data.convert import write_coco
from posekit.data.person_boxes import joint_boxes, renumbered
from posekit.data.readers import read_lsp, read_lspet

REPO = Path(__file__).resolve().parents[1]
RUNS = {"supervised": "lsp_base.yaml", "posedual": "lsp_posedual.yaml", "sspcm": "lsp_sspcm.yaml",
        "sspcm_no_cut_occlude": "lsp_sspcm_no_cut_occlude.yaml"}
TEST_SETS = ("lsp_test", "lspet_7001_8000")
LSPET_TRAIN_LAST = 7000  # LSPET 7,001-8,000 is a test set here; never trained on
NETWORKS = {"supervised": ["model"], "posedual": ["net1", "net2"], "sspcm": ["student", "teacher1", "teacher2"],
            "sspcm_no_cut_occlude": ["student", "teacher1", "teacher2"]}


# ------------------------------------------------------------------------------------ the split
def prepare_split(data_root: Path, out: Path, labeled: int, seed: int, quick: bool = False) -> dict[str, Any]:
    """COCO files for the labeled part, the unlabeled part (labels kept for scoring only) and the two
    test sets; image names relative to `data_root`."""
    lsp_train = read_lsp(data_root / "lsp", "train")
    lspet = renumbered(read_lspet(data_root / "lspet"), 100_000)
    pool_lspet = [r for r in lspet.records if r.image_id - 100_000 <= LSPET_TRAIN_LAST]
    pool = lsp_train.records + pool_lspet
    order = np.random.default_rng(seed).permutation(len(pool))
    chosen = {int(i) for i in order[:labeled]}
    labeled_records = [r for i, r in enumerate(pool) if i in chosen]
    unlabeled_records = [r for i, r in enumerate(pool) if i not in chosen and r.image_id > 100_000]
    test_sets = {"lsp_test": read_lsp(data_root / "lsp", "test").records,
                 "lspet_7001_8000": [r for r in lspet.records if r.image_id - 100_000 > LSPET_TRAIN_LAST]}
    if quick:
        unlabeled_records = unlabeled_records[:8]
        test_sets = {k: v[:8] for k, v in test_sets.items()}
    parts = {"labeled": labeled_records, "unlabeled": unlabeled_records, **test_sets}
    paths = {name: str(write_coco(joint_boxes(replace(lsp_train, records=records, source=name)),
                                  out / f"{name}.json", image_root=data_root))
             for name, records in parts.items()}
    lsp_in_labeled = sum(r.image_id <= 1000 for r in labeled_records)
    return {"paths": paths, "counts": {k: len(v) for k, v in parts.items()},
            "labeled_from_lsp": lsp_in_labeled, "labeled_from_lspet": len(labeled_records) - lsp_in_labeled}


# ---------------------------------------------------------------------------------- the runs
def run_overrides(args: argparse.Namespace, split: dict[str, Any], name: str, out: Path) -> list[str]:
    paths, images = split["paths"], str(Path(args.data).resolve())
    common = ["data.format=coco", f"data.train={paths['labeled']}", f"data.train_images={images}",
              f"data.val={paths['lsp_test']}", f"data.val_images={images}", f"train.seed={args.seed}"]
    if args.quick:
        common += ["model.params={deconv_channels: 32}", "data.input_size=[32, 64]", "data.batch_size=2",
                   "data.val_batch_size=4", "data.workers=0", "train.max_iters_per_epoch=2", "train.log_interval=1"]
    if name == "start":
        return common + [f"out_dir={out / 'start'}", f"train.epochs={args.start_epochs}",
                         f"train.steps=[{args.start_epochs - max(1, args.start_epochs // 6)}]"]
    per_epoch = max(1, split["counts"]["unlabeled"] // (2 if args.quick else args.batch))
    overrides = common + [f"out_dir={out / name}", f"model.pretrained={out / 'start' / 'last.pt'}",
                          f"train.epochs={args.epochs}", f"train.epoch_iters={per_epoch}",
                          f"train.steps=[{args.epochs - 1}]" if args.epochs > 1 else "train.steps=[]"]
    if name != "supervised":
        overrides += [f"strategy_params.unlabeled.path={paths['unlabeled']}",
                      f"strategy_params.unlabeled.images={images}", "strategy_params.unlabeled.min_keypoints=1"]
        if args.quick:
            overrides += ["strategy_params.unlabeled.workers=0", "strategy_params.patch_half_size=[3, 5]",
                          "strategy_params.jitter_sd=2.5"]
    return overrides + list(args.set)


def test_run(run_dir: Path, split: dict[str, Any], data_root: str, quick: bool) -> dict[str, dict[str, float]]:
    """PCK@0.2 of every network of a finished run on both test sets (no flip test)."""
    import torch
    scores: dict[str, dict[str, float]] = {}
    for network in NETWORKS[run_dir.name] if run_dir.name in NETWORKS else ["model"]:
        scores[network] = {}
        for test in TEST_SETS:
            cfg, estimator = experiment.load_experiment(
                run_dir / "last.pt", None, [f"data.val={split['paths'][test]}", f"data.val_images={data_root}"]
                + (["data.workers=0"] if quick else []), None if network == "model" else network)
            data = experiment.load_split(cfg, "val")
            loader = experiment.val_loader(cfg, experiment.build_dataset(cfg, data, estimator.codec, train=False))
            predictions = experiment.predict_all(estimator, loader, False, torch.device("cpu"))
            scores[network][test] = float(experiment.build_evaluator(data).evaluate(predictions)["PCK@0.2"])
    return scores


def epoch_log(run_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("type") == "epoch"]


def minutes(run_dir: Path) -> float:
    """Training time: the sum of the gaps between log rows under 30 minutes (a stopped-and-resumed run
    stands still in between)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    gaps = [b["time"] - a["time"] for a, b in zip(rows, rows[1:])]
    return sum(g for g in gaps if g < 1800) / 60


# ---------------------------------------------------------------------------------- the report
def report(out: Path) -> dict[str, Any]:
    """Everything measured under `out`, from the files the runs wrote."""
    runs, logs = {}, {}
    for name in ["start", *RUNS]:
        test_file = out / name / "test.json"
        if test_file.is_file():
            runs[name] = json.loads(test_file.read_text())
            logs[name] = {"epochs": [{k: v for k, v in r.items() if k.startswith(("stats/", "val/PCK@0.2"))}
                                     | {"epoch": r["epoch"], "iteration": r["iteration"]} for r in epoch_log(out / name)],
                          "minutes": round(minutes(out / name), 1)}
    setting = json.loads((out / "setting.json").read_text()) if (out / "setting.json").is_file() else {}
    return {"setting": setting, "networks": runs, "logs": logs}


def table(rep: dict[str, Any]) -> str:
    lines = ["| run | network | LSP test | LSPET 7,001-8,000 | pseudo-label PCK (last epoch) | masked share | minutes |",
             "|---|---|---|---|---|---|---|"]
    for name, networks in rep["networks"].items():
        log = rep["logs"][name]
        last = log["epochs"][-1] if log["epochs"] else {}
        pseudo = ", ".join(f"{k.split('/')[-1]} {v:.3f}" for k, v in last.items() if k.startswith("stats/pseudo_pck/"))
        masked = last.get("stats/masked_share")
        for i, (network, scores) in enumerate(networks.items()):
            lines.append(f"| {name if i == 0 else ''} | {network} | {scores['lsp_test']:.3f} | "
                         f"{scores['lspet_7001_8000']:.3f} | {pseudo if i == 0 and pseudo else '-'} | "
                         f"{f'{masked:.3f}' if i == 0 and masked is not None else '-'} | "
                         f"{log['minutes'] if i == 0 else ''} |")
    return "\n".join(lines)


def runs_json(rep: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{RUN: {TEST_SET: PCK}} of each run's deliverable (its first network)."""
    return {name: next(iter(networks.values())) for name, networks in rep["networks"].items() if name in RUNS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="folder with lsp/ and lspet/")
    parser.add_argument("--out", default="runs/ssl_lsp/n1000", help="output folder")
    parser.add_argument("--labeled", type=int, default=1000, help="labeled images drawn from LSP train + LSPET 1-7,000")
    parser.add_argument("--seed", type=int, default=0, help="the split's and every run's seed")
    parser.add_argument("--start-epochs", type=int, default=30, help="epochs of the supervised start")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each run (one pass over the unlabeled pool)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (the configs' data.batch_size)")
    parser.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for every run")
    parser.add_argument("--quick", action="store_true", help="two iterations per epoch on a handful of images")
    parser.add_argument("--report-only", action="store_true", help="train nothing: report the runs under --out")
    parser.add_argument("--json", action="store_true", help="print {\"runs\": {RUN: {TEST_SET: PCK}}} as the last line")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.report_only:
        data_root = Path(args.data).resolve()
        if not (data_root / "lsp").is_dir() or not (data_root / "lspet").is_dir():
            parser.error(f"--data {data_root}: needs lsp/ and lspet/ (../shared/data)")
        if args.quick:
            args.start_epochs, args.epochs, args.labeled = 1, 2, 8
        split = prepare_split(data_root, out / "data", args.labeled, args.seed, args.quick)
        (out / "setting.json").write_text(json.dumps({
            "command": "python benchmarks/ssl_lsp.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in (("labeled", args.labeled), ("seed", args.seed),
                                                         ("start_epochs", args.start_epochs), ("epochs", args.epochs)))
            + (" --quick" if args.quick else "") + (" --set " + " ".join(args.set) if args.set else ""),
            "machine": f"{platform.platform()} {platform.processor()}", "date": time.strftime("%Y-%m-%d"),
            **{k: v for k, v in split.items() if k != "paths"}}, indent=1))
        for name in ["start", *args.runs]:
            config = REPO / "configs" / "semi" / RUNS.get(name, "lsp_base.yaml")
            cfg = load_config(config, run_overrides(args, split, name, out))
            started = time.time()
            experiment.train(cfg, resume="auto", progress=False)  # resumes an interrupted run
            scores = test_run(out / name, split, str(data_root), args.quick)
            (out / name / "test.json").write_text(json.dumps(scores, indent=1))
            print(f"{name}: {json.dumps(scores)} ({(time.time() - started) / 60:.1f} min)", flush=True)
    rep = report(out)
    (out / "report.json").write_text(json.dumps(rep, indent=1))
    print(table(rep))
    if args.json:
        print(json.dumps({"runs": runs_json(rep)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
