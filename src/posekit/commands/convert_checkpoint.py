"""`posekit convert checkpoint {mmpose,higherhrnet,simplepose} IN.pth OUT.pt`: an official checkpoint
-> a posekit checkpoint that `posekit eval` and `posekit predict` load."""
from __future__ import annotations

import argparse
from pathlib import Path

from posekit.commands import emit_json

# posekit.models.official.FORMATS and convert_mmpose.DISTILLER_PARTS, spelled out so that building the
# parser does not import torch (a test keeps them equal).
SOURCES = ("mmpose", "higherhrnet", "simplepose")
PARTS = ("student", "teacher", "merged")


def add_checkpoint(verbs: argparse._SubParsersAction) -> None:
    """Add `convert checkpoint SOURCE IN OUT`; torch is not imported here."""
    p = verbs.add_parser(
        "checkpoint", help="official RTMPose/DWPose, HigherHRNet or Simple Pose weights -> a posekit checkpoint",
        description="Map an official checkpoint's keys onto a posekit zoo model, load them with strict=True "
                    "and write a posekit checkpoint carrying the weights and a matching experiment config. "
                    "Keypoint set, input size (RTMPose) and the zoo model are read from the weights; "
                    "docs/official_checkpoints.md lists the accepted forms.")
    p.add_argument("source", choices=SOURCES, help="whose training code wrote the checkpoint")
    p.add_argument("input", help="the .pth / .pth.tar file")
    p.add_argument("out", help="posekit checkpoint to write (.pt)")
    p.add_argument("--model", help="zoo name of the architecture, e.g. rtmpose-m "
                                   "(default: the zoo model whose shapes the weights have)")
    p.add_argument("--keypoint-set", help="keypoint set (default: read from the weights)")
    p.add_argument("--part", choices=PARTS,
                   help="what to take from a DWPose distiller file: one network, or merged = teacher backbone + "
                        "student head (default: merged for a stage-2 file, whose two networks match; else student)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run_checkpoint)


def run_checkpoint(args: argparse.Namespace) -> int:
    """Write the converted checkpoint (weights and config, no training state), print model, keypoint set,
    input size and parameter count; returns 0."""
    from posekit.config import to_dict
    from posekit.inference.official import official_estimator
    from posekit.models.official import read_checkpoint
    from posekit.training.checkpoint import save_checkpoint

    cfg, estimator, weights = official_estimator(read_checkpoint(args.input), args.input, args.source,
                                                 args.model, args.keypoint_set, args.part)
    if weights.note and not args.json:
        print(f"note: {weights.note}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # No training state to resume: the estimator's weights and the config that rebuilds it.
    save_checkpoint({"strategy": {}, "estimator": estimator.state_dict(),
                     "metadata": {"experiment": to_dict(cfg), "source": str(args.input)}}, out)
    summary = {"file": str(out), **weights.info(), "params": sum(p.numel() for p in estimator.model.parameters())}
    if args.json:
        emit_json(summary)
    else:
        w, h = weights.input_size
        print(f"wrote {out}: {weights.model}, {weights.keypoint_set}, input {h}x{w}, "
              f"{summary['params'] / 1e6:.2f} M parameters")
    return 0
