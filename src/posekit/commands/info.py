"""`posekit info MODEL`: keypoint set, parameters and MACs of a zoo model at an input size, of the
shipped default model (`default`), or of a posekit model file or checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posekit.commands import emit_json


def parse_hw(text: str) -> tuple[int, int]:
    """'256x192' (H x W, as the papers write it) -> (w, h)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"'{text}' is not HxW, e.g. 256x192")
    return int(parts[1]), int(parts[0])


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `info` verb."""
    p = sub.add_parser("info", help="keypoints, parameters and MACs of a zoo model or a model file")
    p.add_argument("model", help="zoo name (see `posekit models`), `default` (the shipped model), or a posekit "
                                 "model file or checkpoint")
    p.add_argument("--input", type=parse_hw, default=None, metavar="HxW",
                   help="input size of a zoo model, height x width (default: the model's own)")
    p.add_argument("--keypoint-set", default=None,
                   help="keypoint set name or file of a zoo model (default: the model's own)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def model_file(name: str) -> Path | None:
    """The file `name` means (`default`: the shipped model, or a path), or None for a zoo name."""
    from posekit.inference.model_file import DEFAULT_MODEL
    from posekit.models.zoo import list_models
    if name == "default":
        return DEFAULT_MODEL
    if name in {entry.name for entry in list_models()}:
        return None
    path = Path(name)
    # Anything shaped like a path is one, so a typo'd path says "not found" rather than "unknown model".
    return path if path.exists() or path.suffix or "/" in name or "\\" in name else None


def run(args: argparse.Namespace) -> int:
    """Print the model's input size, keypoint set and names, parameters (M) and MACs (G); returns 0."""
    path = model_file(args.model)
    result = zoo_info(args) if path is None else file_info(path, args)
    if args.json:
        emit_json(result)
        return 0
    if "file" in result:
        print(f"file        {result['file']}")
    print(f"model       {result['model']}")
    print(f"input       {result['input_hw'][0]}x{result['input_hw'][1]} (HxW)")
    print(f"keypoints   {result['keypoint_set']} ({result['num_keypoints']}): {', '.join(result['keypoint_names'])}")
    print(f"parameters  {result['params_m']:.2f} M")
    print(f"MACs        {result['gmacs']:.3f} G  (counted with torch.utils.flop_counter; MACs = FLOPs / 2)")
    if "inference" in result:
        i = result["inference"]
        looks = f"refine {i['refine']:g} with {i['refine_looks']} closer look(s)" if i["refine"] else "refine off"
        print(f"inference   person boxes padded {i['bbox_padding']:g}x; the whole image (no boxes) padded "
              f"{i['whole_image_padding']:g}x, {looks}; keypoints drawn above {i['keypoint_threshold']:g}")
    return 0


def zoo_info(args: argparse.Namespace) -> dict[str, Any]:
    """The zoo model at --input with --keypoint-set, built on the meta device (no weights allocated)."""
    import torch

    from posekit.keypoints import get_keypoint_set
    from posekit.models.zoo import build_model, get_entry

    try:
        entry = get_entry(args.model)
    except KeyError as exc:  # the zoo's list of names, and what else `info` takes
        raise KeyError(f"{exc.args[0]}; or `default` (the shipped model), or a model file or checkpoint") from None
    size = args.input or entry.input_size
    kset = get_keypoint_set(args.keypoint_set or entry.keypoint_set)
    with torch.device("meta"):  # shapes only: counting needs no weights and no arithmetic
        model = build_model(args.model, keypoint_set=args.keypoint_set, input_size=size)
    return _result(args.model, size, kset, model)


def file_info(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A model file or checkpoint as posekit.load reads it: its own model, keypoint set and input size."""
    from posekit.inference.api import load
    if args.input or args.keypoint_set:
        raise ValueError(f"{path}: --input and --keypoint-set apply to zoo names; a model file has its own")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file or checkpoint")
    model = load(path, flip_test=False)
    predictor = model.predictor
    # A top-down file's crop settings (a model file's own; a checkpoint's are the training crops'), so a
    # user sees what `posekit predict` will do with it.
    inference = {"bbox_padding": predictor.padding, "whole_image_padding": predictor.preprocess.padding_for(whole_image=True),
                 "refine": predictor.refine, "refine_looks": predictor.refine_looks,
                 "keypoint_threshold": model.keypoint_threshold}
    network = model.estimator.model.to("meta")  # as for zoo models: count shapes, compute nothing
    return {"file": str(path), **_result(model.name, model.input_size, model.keypoint_set, network),
            **({"inference": inference} if model.paradigm == "topdown" else {})}


def _result(name: str, size: tuple[int, int], kset: Any, network: Any) -> dict[str, Any]:
    """The --json object: the model's name, input (HxW), keypoint set, parameters and MACs."""
    from posekit.models.complexity import model_complexity
    c = model_complexity(network, size)
    return {"model": name, "input_hw": [size[1], size[0]], "keypoint_set": kset.name,
            "num_keypoints": kset.num_keypoints, "keypoint_names": list(kset.names), "params": c.params,
            "params_m": round(c.params_m, 3), "macs": c.macs, "gmacs": round(c.gmacs, 3), "macs_by_op": c.macs_by_op}
