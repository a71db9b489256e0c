"""`posekit convert checkpoint mmpose IN.pth OUT.pt`: a published mmpose RTMPose / DWPose
checkpoint -> a posekit checkpoint that `posekit eval` and `posekit predict` load."""
from __future__ import annotations

import argparse
from pathlib import Path

from posekit.commands import emit_json


def add_checkpoint(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "checkpoint", help="published mmpose RTMPose/DWPose weights -> a posekit checkpoint",
        description="Map an mmpose checkpoint's keys onto a posekit zoo model, load them with strict=True "
                    "(input size and keypoint count are read from the weights) and write a posekit "
                    "checkpoint carrying the weights and a matching experiment config.")
    p.add_argument("source", choices=["mmpose"], help="where the checkpoint comes from")
    p.add_argument("input", help="the .pth file")
    p.add_argument("out", help="posekit checkpoint to write (.pt)")
    p.add_argument("--model", required=True, help="zoo name of the architecture, e.g. rtmpose-m")
    p.add_argument("--keypoint-set", help="keypoint set (default: the built-in set with the checkpoint's count)")
    p.add_argument("--part", choices=["student", "teacher"], default="student",
                   help="which network of a DWPose distiller checkpoint to take (default: student)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run_checkpoint)


def run_checkpoint(args: argparse.Namespace) -> int:
    from posekit.config import ExperimentConfig, from_dict, to_dict
    from posekit.models.convert_mmpose import load_mmpose_checkpoint
    from posekit.models.zoo import get_entry
    from posekit.training.checkpoint import save_checkpoint

    model, info = load_mmpose_checkpoint(args.input, args.model, args.keypoint_set, args.part)
    codec = {k: v for k, v in get_entry(args.model).codec.items() if k != "name"}
    experiment = from_dict(ExperimentConfig, {
        "name": f"{args.model}-from-mmpose", "paradigm": "topdown",
        "model": {"name": args.model},
        "codec": {"name": "simcc", "params": codec},
        "data": {"keypoint_set": info["keypoint_set"], "input_size": info["input_size"]},
    })
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The estimator owns the network as `model`, hence the prefix; no training state to resume.
    save_checkpoint({"strategy": {}, "estimator": {f"model.{k}": v for k, v in model.state_dict().items()},
                     "metadata": {"experiment": to_dict(experiment), "source": str(args.input)}}, out)
    summary = {"file": str(out), **info, "params": sum(p.numel() for p in model.parameters())}
    if args.json:
        emit_json(summary)
    else:
        w, h = info["input_size"]
        print(f"wrote {out}: {args.model}, {info['keypoint_set']}, input {h}x{w}, {summary['params'] / 1e6:.2f} M parameters")
    return 0
