"""`posekit train CONFIG [KEY=VALUE ...]`: train an experiment; resumes from its last checkpoint."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json, resolve_device


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `train` verb."""
    p = sub.add_parser("train", help="train from a YAML config (KEY=VALUE overrides any field)")
    p.add_argument("config", help="experiment YAML (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. train.epochs=5 data.batch_size=16")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if OUT_DIR/last.pt exists")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train (resuming from OUT_DIR/last.pt unless --no-resume) and print epochs, best metric and
    checkpoint folder; returns 0."""
    from posekit.config import load_config
    from posekit.experiment import train
    cfg = load_config(args.config, args.overrides)  # config errors surface before any work
    device = resolve_device(args.device) if args.device else None  # None: torchrun's rank picks its GPU
    result = train(cfg, resume=False if args.no_resume else "auto", device=device)
    best = result.get("best_metric")
    scored = (f"best {result['metric']} = {round(best, 4)} at epoch {result['best_epoch'] + 1}" if best is not None
              else "not validated (train.val_interval 0, or no epoch reached it)")
    print(f"trained {result['epochs']} epochs ({result['iterations']} iterations); {scored}; "
          f"checkpoints in {cfg.out_dir}")
    if args.json:
        emit_json(result)
    return 0
