"""`posekit info MODEL`: parameters and MACs of a zoo model at an input size."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json


def parse_hw(text: str) -> tuple[int, int]:
    """'256x192' (H x W, as the papers write it) -> (w, h)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"'{text}' is not HxW, e.g. 256x192")
    return int(parts[1]), int(parts[0])


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `info` verb."""
    p = sub.add_parser("info", help="parameters and MACs of a zoo model")
    p.add_argument("model", help="zoo name (see `posekit models`)")
    p.add_argument("--input", type=parse_hw, default=None, metavar="HxW",
                   help="input size, height x width (default: the model's own)")
    p.add_argument("--keypoint-set", default=None, help="keypoint set name or file (default: the model's own)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the model's input size, keypoint set, parameters (M) and MACs (G); returns 0.

    The model is built on the meta device, so no weights are allocated.
    """
    import torch

    from posekit.keypoints import get_keypoint_set
    from posekit.models.complexity import model_complexity
    from posekit.models.zoo import build_model, get_entry

    entry = get_entry(args.model)
    size = args.input or entry.input_size
    kset = get_keypoint_set(args.keypoint_set or entry.keypoint_set)
    with torch.device("meta"):  # shapes only: counting needs no weights and no arithmetic
        model = build_model(args.model, keypoint_set=args.keypoint_set, input_size=size)
    c = model_complexity(model, size)
    result = {"model": args.model, "input_hw": [size[1], size[0]], "keypoint_set": kset.name,
              "num_keypoints": kset.num_keypoints, "params": c.params, "params_m": round(c.params_m, 3),
              "macs": c.macs, "gmacs": round(c.gmacs, 3), "macs_by_op": c.macs_by_op}
    if args.json:
        emit_json(result)
        return 0
    print(f"model       {args.model}")
    print(f"input       {size[1]}x{size[0]} (HxW)")
    print(f"keypoints   {kset.name} ({kset.num_keypoints})")
    print(f"parameters  {c.params_m:.2f} M")
    print(f"MACs        {c.gmacs:.3f} G  (counted with torch.utils.flop_counter; MACs = FLOPs / 2)")
    return 0
