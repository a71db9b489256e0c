"""`posekit export CHECKPOINT --out FILE.onnx`: a pose model as one self-describing ONNX file.

CHECKPOINT is a posekit training checkpoint, a posekit model file, or `default` (the shipped default
model). The graph is the network alone (image batch in, raw outputs out); crop size, box padding,
codec and keypoint set go into the file's metadata_props, so `posekit.runtime.load(FILE.onnx)` runs it
with numpy, OpenCV and onnxruntime only.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit.commands import emit_json

if TYPE_CHECKING:
    from posekit.runtime.metadata import ModelMetadata

# The codec registry maps names to builders; this maps codec classes back to their registered names.
CODEC_NAMES = {"SimCCCodec": "simcc", "HeatmapCodec": "heatmap",
               "AssociativeEmbeddingCodec": "associative_embedding", "BodyPartCodec": "simplepose"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `export` verb."""
    p = sub.add_parser("export", help="export a checkpoint or model file to ONNX for posekit.runtime")
    p.add_argument("checkpoint", help="a posekit checkpoint or model file, or `default` for the shipped model")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    p.add_argument("--json", action="store_true", help="print the written metadata as JSON on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export the model to --out and print its model, paradigm, input size, codec and file size; returns 0."""
    from posekit.data.convert import check_out_file
    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"{out}: --out must name an .onnx file")
    check_out_file(out, "--out")
    source = None if args.checkpoint == "default" else Path(args.checkpoint)
    if source is not None and not source.is_file():
        raise FileNotFoundError(f"{source}: no such checkpoint or model file")
    from posekit.inference.api import load
    try:
        model = load(source, flip_test=False)
    except ValueError as exc:  # torch.load's reasons run over several lines; the first names the file
        raise ValueError(str(exc).splitlines()[0]) from None
    metadata = export_pose_model(model, out, args.opset)
    w, h = metadata.input_size
    print(f"{metadata.model} ({metadata.paradigm}, {metadata.keypoint_set}, input {w}x{h}, codec {metadata.codec}) "
          f"-> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.json:
        emit_json({"out": str(out), **dataclasses.asdict(metadata)})
    return 0


def export_pose_model(model: Any, out: str | Path, opset: int = 17) -> ModelMetadata:
    """Write a PoseModel (`posekit.load()`'s result) to `out` as ONNX with its runtime metadata."""
    import onnx

    from posekit import __version__
    from posekit.inference.onnx_export import export_onnx
    from posekit.runtime.metadata import ModelMetadata

    estimator, kset = model.estimator, model.keypoint_set
    codec = estimator.codec
    metadata = ModelMetadata(
        paradigm=model.paradigm, model=model.name, keypoint_set=kset.name, keypoint_names=tuple(kset.names),
        flip_index=tuple(int(i) for i in kset.flip_index), skeleton=tuple(tuple(link) for link in kset.skeleton),
        input_size=tuple(model.input_size), bbox_padding=float(model.predictor.padding),
        codec=CODEC_NAMES.get(type(codec).__name__, type(codec).__name__), codec_params=codec_settings(codec),
        posekit_version=__version__, refine=float(model.predictor.refine),
        refine_looks=int(model.predictor.refine_looks),
        keypoint_threshold=float(model.keypoint_threshold),
        whole_image_padding=model.predictor.preprocess.whole_image_padding)
    out = Path(out)
    partial = out.with_name(out.name + ".partial")  # a failed export leaves no half-written FILE.onnx
    try:
        export_onnx(estimator.model, model.input_size, partial, opset)
        proto = onnx.load(str(partial))
        try:  # the exporter writes some opsets (e.g. --opset 1) as graphs no runtime loads, without a word
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as exc:
            raise ValueError(f"{out}: not written: the graph exported at opset {opset} is not valid ONNX "
                             f"({str(exc).strip().splitlines()[0]}); use a newer --opset") from None
        for key, value in metadata.to_props().items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(partial))
        os.replace(partial, out)
    except OSError as exc:  # name the file the user asked for, not the temporary one beside it
        raise OSError(f"{out}: cannot write it ({exc.strerror or exc})") from None
    finally:
        partial.unlink(missing_ok=True)
    return metadata


def codec_settings(codec: Any) -> dict[str, Any]:
    """A codec's public attributes that have a JSON form (its constructor settings and derived sizes)."""
    settings = {}
    for name, value in vars(codec).items():
        converted = _jsonable(value)
        if not name.startswith("_") and converted is not None:
            settings[name] = converted
    return settings


def _jsonable(value: Any) -> Any:
    """`value` in plain JSON types, or None where some part of it has no JSON form."""
    import numpy as np
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        items = {str(k): _jsonable(v) for k, v in value.items() if v is not None}
        return None if any(v is None for v in items.values()) else items
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v) for v in value]
        return None if any(v is None for v in items) else items
    return None
