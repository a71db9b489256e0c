"""`posekit distill-merge STAGE2_CKPT OUT.pt`: the DWPose stage-2 result (the frozen distilled
backbone + the head trained on it) as one deployable checkpoint that `posekit eval` and
`posekit predict` load, with no teacher or training state left in it."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `distill-merge` verb."""
    p = sub.add_parser("distill-merge", help="merge a DWPose stage-2 checkpoint into one deployable checkpoint")
    p.add_argument("checkpoint", help="stage-2 training checkpoint (best.pt / last.pt)")
    p.add_argument("out", help="deployable checkpoint to write (.pt)")
    p.add_argument("--config", help="the stage-2 experiment YAML (default: the one stored in the checkpoint)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def merge_distilled(checkpoint: str | Path, out: str | Path, config: str | Path | None = None) -> dict[str, Any]:
    """Write `out` from a stage-2 checkpoint and load it back through `load_experiment` to prove it
    deploys. Returns a summary (file, model, keypoint set, parameter count)."""
    from posekit.config import ConfigError, from_dict, load_config, to_dict
    from posekit.experiment import load_experiment, stored_config
    from posekit.training.checkpoint import load_checkpoint, save_checkpoint
    from posekit.training.strategies.distill import DistillParams

    path = Path(checkpoint)
    state = load_checkpoint(path)
    if "estimator" not in state:
        raise ValueError(f"{path}: not a posekit checkpoint (no 'estimator' weights)")
    if config:
        cfg = load_config(config)
    elif "experiment" in state.get("metadata", {}):
        cfg = stored_config(state["metadata"]["experiment"])
    else:
        raise ValueError(f"{path}: the checkpoint carries no experiment config; pass --config")
    if cfg.strategy != "distill":
        raise ConfigError(f"{path}: trained with strategy '{cfg.strategy}', not 'distill'")
    if from_dict(DistillParams, dict(cfg.strategy_params), prefix="strategy_params").stage != 2:
        raise ConfigError(f"{path}: a stage-1 checkpoint; its student is deployable as it is "
                          "(merging joins stage 2's frozen backbone and new head)")
    weights = state["estimator"]
    teacher = state["strategy"]
    # Stage 2's student shares the teacher's backbone; anything else means a foreign checkpoint.
    for key, value in weights.items():
        if key.startswith("model.backbone."):
            source = teacher.get(f"teacher.{key}")
            if source is None or not torch.equal(source, value):
                raise ValueError(f"{path}: '{key}' is not the frozen teacher backbone; not a stage-2 checkpoint")
    deploy = replace(cfg, strategy="supervised", strategy_params={}, model=replace(cfg.model, pretrained=""))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"strategy": {}, "estimator": weights,
                     "metadata": {"experiment": to_dict(deploy), "source": str(path),
                                  "merged": "DWPose stage 2: distilled backbone + stage-2 head"}}, out)
    _, estimator = load_experiment(out)
    return {"file": str(out), "model": cfg.model.name, "keypoint_set": cfg.data.keypoint_set,
            "input_size": list(cfg.data.input_size), "params": sum(p.numel() for p in estimator.parameters())}


def run(args: argparse.Namespace) -> int:
    """Merge the checkpoint and print the written file, model, input size and parameter count; returns 0."""
    summary = merge_distilled(args.checkpoint, args.out, args.config)
    if args.json:
        emit_json(summary)
    else:
        w, h = summary["input_size"]
        print(f"wrote {summary['file']}: {summary['model']}, {summary['keypoint_set']}, input {h}x{w}, "
              f"{summary['params'] / 1e6:.2f} M parameters")
    return 0
