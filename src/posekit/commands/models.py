"""`posekit models`: the model zoo."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the model zoo")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from posekit.models.zoo import list_models
    entries = list_models()
    if args.json:
        emit_json({"models": [{"name": e.name, "paradigm": e.paradigm, "input_size": list(e.input_size),
                               "keypoint_set": e.keypoint_set, "codec": e.codec.get("name", ""),
                               "description": e.description} for e in entries]})
        return 0
    width = max([len(e.name) for e in entries] + [4])
    codec_width = max([len(e.codec.get("name", "")) for e in entries] + [5])
    print(f"{'name':<{width}}  paradigm  input(WxH)  keypoints    {'codec':<{codec_width}}  description")
    for e in entries:
        size = f"{e.input_size[0]}x{e.input_size[1]}"
        print(f"{e.name:<{width}}  {e.paradigm:<8}  {size:<10}  {e.keypoint_set:<11}  "
              f"{e.codec.get('name', ''):<{codec_width}}  {e.description}")
    return 0
