"""`posekit models`: the model zoo."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `models` verb."""
    p = sub.add_parser("models", help="list the model zoo")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def shipped_model() -> dict | None:
    """The default model file's summary (None when this install lacks it)."""
    from posekit.inference.model_file import DEFAULT_MODEL, read_model_file
    if not DEFAULT_MODEL.is_file():
        return None
    state = read_model_file(DEFAULT_MODEL)
    return {"name": "default", "file": str(DEFAULT_MODEL), "architecture": state["model"],
            "keypoint_set": state["keypoint_set"], "input_size": list(state["input_size"]),
            "pck_limbs": dict(state["info"].get("pck_limbs", {})), "trained_on": state["info"].get("trained_on", "")}


def run(args: argparse.Namespace) -> int:
    """Print the shipped default model's summary, then one line per zoo model; returns 0."""
    from posekit.models.zoo import list_models
    entries = list_models()
    shipped = shipped_model()
    if args.json:
        emit_json({"models": [{"name": e.name, "paradigm": e.paradigm, "input_size": list(e.input_size),
                               "keypoint_set": e.keypoint_set, "codec": e.codec.get("name", ""),
                               "description": e.description} for e in entries], "default": shipped})
        return 0
    if shipped:
        w, h = shipped["input_size"]
        scores = ", ".join(f"{k} {v:.3f}" for k, v in shipped["pck_limbs"].items())
        print(f"default model (posekit.load(), `posekit predict` without --checkpoint): {shipped['architecture']}, "
              f"{shipped['keypoint_set']}, {w}x{h}, trained weights in the package")
        print(f"  PCK@0.2 over 12 limb joints, whole image as the box: {scores or 'not scored'}")
        print(f"  trained on {shipped['trained_on']}\n")
    width = max([len(e.name) for e in entries] + [4])
    codec_width = max([len(e.codec.get("name", "")) for e in entries] + [5])
    print(f"{'name':<{width}}  paradigm  input(WxH)  keypoints    {'codec':<{codec_width}}  description")
    for e in entries:
        size = f"{e.input_size[0]}x{e.input_size[1]}"
        print(f"{e.name:<{width}}  {e.paradigm:<8}  {size:<10}  {e.keypoint_set:<11}  "
              f"{e.codec.get('name', ''):<{codec_width}}  {e.description}")
    return 0
