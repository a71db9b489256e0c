"""Official checkpoints -> posekit zoo models: MMPose RTMPose / DWPose, HigherHRNet, Simple Pose.

The format is read from the weights' names, after unwrapping what each official training code puts
around them:
- mmpose: `{"meta", "state_dict", ...}` (published files, MMEngine runner checkpoints), a DDP `module.`
  prefix, DWPose distiller `student.`/`teacher.` networks (convert_mmpose); RTMPose by
  `backbone.stem.*` + `head.cls_x.*`.
- higherhrnet (HRNet/HigherHRNet-Human-Pose-Estimation): a bare state dict (published models,
  `model_best.pth.tar`, `final_state*.pth.tar`) or the training `checkpoint.pth.tar`
  (`{"epoch", "model": name, "state_dict": DDP "module."-prefixed, "best_state_dict", "perf",
  "optimizer"}`); FP16 runs wrap the network in `nn.Sequential(tofp16, net, tofp32)`, so their keys
  start with `1.` and the convs are float16 (the published 640 models). Keys are posekit's own.
- simplepose (jialee93/Improved-Body-Parts): `{"weights": ..., "optimizer_weight", "train_loss",
  "epoch"}`, names mapped by convert_simplepose.

Everything is read weights-only (safe_load.load_runner_checkpoint); float16 weights become float32.
What cannot be read from the weights (a fully convolutional model's input size) is the zoo default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posekit.keypoints import get_keypoint_set
from posekit.models import convert_mmpose, convert_simplepose
from posekit.models.safe_load import load_runner_checkpoint
from posekit.models.zoo import build_model, get_entry, list_models

FORMATS = {
    "mmpose": "an MMPose RTMPose/DWPose checkpoint",
    "higherhrnet": "an official HigherHRNet checkpoint",
    "simplepose": "an official Simple Pose (Improved-Body-Parts) checkpoint",
}
_FAMILY = {"mmpose": "rtmpose-", "higherhrnet": "higherhrnet-", "simplepose": "simplepose-"}
_HIGHERHRNET_SIGNATURE = ("conv1.weight", "layer1.0.conv1.weight", "final_layers.0.weight",
                          "deconv_layers.0.0.0.weight")
_MMPOSE_SIGNATURE = ("backbone.stem.0.conv.weight", "head.cls_x.weight")
# The keypoint sets the official bottom-up models were trained on, by keypoint count.
_BOTTOMUP_SETS = {17: "coco17", 14: "crowdpose14"}


@dataclass
class OfficialWeights:
    """Converted weights and what posekit needs to run them."""
    format: str
    state: dict[str, torch.Tensor]
    model: str
    keypoint_set: str
    input_size: tuple[int, int]
    params: dict = field(default_factory=dict)  # zoo builder arguments (Simple Pose's input format)
    note: str = ""

    def info(self) -> dict[str, Any]:
        """JSON-ready summary without the weights: format, model, keypoint_set, input_size [w, h], and
        params and note where set."""
        return {"format": self.format, "model": self.model, "keypoint_set": self.keypoint_set,
                "input_size": list(self.input_size), **({"params": self.params} if self.params else {}),
                **({"note": self.note} if self.note else {})}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The file's top-level dict, read weights-only (runner objects as placeholders); ValueError
    naming the file where it is unreadable or not a dict."""
    checkpoint = load_runner_checkpoint(path)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: not a checkpoint (a {type(checkpoint).__name__}, expected a dict)")
    return checkpoint


def unwrap(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The weights inside a training checkpoint: its `state_dict` or `weights` entry (else the dict
    itself), without DDP's `module.` and an FP16 wrapper's `1.` prefixes."""
    state = next((checkpoint[k] for k in ("state_dict", "weights") if isinstance(checkpoint.get(k), dict)), checkpoint)
    state = {str(k).removeprefix("module."): v for k, v in state.items()}
    if state and all(k.startswith("1.") for k in state):
        state = {k[2:]: v for k, v in state.items()}
    return state


def detect_format(checkpoint: dict[str, Any]) -> str | None:
    """'mmpose', 'higherhrnet', 'simplepose', or None, from the weights' names."""
    state = unwrap(checkpoint)
    names = {k.split(".", 1)[1] if k.startswith(("student.", "teacher.")) else k for k in state}
    if all(k in names for k in _MMPOSE_SIGNATURE):
        return "mmpose"
    if all(k in state for k in _HIGHERHRNET_SIGNATURE):
        return "higherhrnet"
    if all(k in convert_simplepose.strip_wrapper(state) for k in convert_simplepose.SIGNATURE):
        return "simplepose"
    return None


def higherhrnet_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """An official HigherHRNet checkpoint's weights under posekit's names (they are the same), float32."""
    state = unwrap(checkpoint)
    missing = next((k for k in _HIGHERHRNET_SIGNATURE if k not in state), None)
    if missing:
        raise ValueError(f"not an official HigherHRNet state dict: no '{missing}' entry")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"entry '{key}' is not a tensor")
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _keypoint_set(fmt: str, state: dict[str, torch.Tensor], requested: str | None) -> str:
    if fmt == "mmpose":
        count = convert_mmpose.checkpoint_shape(state)[0]
        name = requested or convert_mmpose.keypoint_set_for(count)
    elif fmt == "higherhrnet":
        count = state["final_layers.1.weight"].shape[0]
        name = requested or _BOTTOMUP_SETS.get(count) or convert_mmpose.keypoint_set_for(count)
    else:
        from posekit.models.simplepose import simplepose_channels
        channels = state["outs.0.0.0.weight"].shape[0]
        candidates = [requested] if requested else list(_BOTTOMUP_SETS.values())
        fits = [n for n in candidates if simplepose_channels(n) == channels]
        if not fits:
            raise ValueError(f"its {channels} output channels fit no keypoint set's limb layout"
                             + (f" ('{requested}' has {simplepose_channels(requested)})" if requested else ""))
        return fits[0]
    if get_keypoint_set(name).num_keypoints != count:
        raise ValueError(f"predicts {count} keypoints but keypoint set '{name}' has "
                         f"{get_keypoint_set(name).num_keypoints}")
    return name


def _shapes(state: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def _choose_model(fmt: str, state: dict[str, torch.Tensor], keypoint_set: str, input_size: tuple[int, int] | None,
                  params: dict, requested: str | None) -> str:
    """The zoo model named (checked to be of the format's family), else the first of the family whose
    state-dict names and shapes are the checkpoint's (built on the meta device: no memory, no init)."""
    family = _FAMILY[fmt]
    if requested:
        get_entry(requested)
        if not requested.startswith(family):
            raise ValueError(f"is {FORMATS[fmt]}, not weights for '{requested}' (a {family}* model takes them)")
        return requested
    wanted, closest = _shapes(state), (None, None)
    for entry in list_models():
        if not entry.name.startswith(family):
            continue
        with torch.device("meta"):
            net = build_model(entry.name, keypoint_set, input_size or entry.input_size, **params)
        shapes = _shapes(net.state_dict())
        differing = set(shapes.items()) ^ set(wanted.items())
        if not differing:
            return entry.name
        if closest[1] is None or len(differing) < len(closest[1]):
            closest = (entry.name, differing)
    example = min(closest[1], key=str)[0] if closest[1] else ""
    raise ValueError(f"its weights match no {family}* zoo model (nearest: {closest[0]}, which differs at "
                     f"'{example}' and {max(len(closest[1] or ()) - 1, 0)} more); name one with --model / a zoo name")


def convert_official(checkpoint: dict[str, Any], source: str | None = None, model: str | None = None,
                     keypoint_set: str | None = None, part: str | None = None) -> OfficialWeights:
    """Convert a loaded official checkpoint. source: the format, else detected (ValueError when neither
    names one); part: for DWPose distiller files (convert_mmpose.DISTILLER_PARTS; default by stage)."""
    if "estimator" in checkpoint or "posekit_model" in checkpoint:
        raise ValueError("is a posekit checkpoint or model file already, not an official checkpoint")
    detected = detect_format(checkpoint)
    if source is not None and source not in FORMATS:
        raise ValueError(f"unknown checkpoint source '{source}' (one of {', '.join(FORMATS)})")
    if source and detected and detected != source:
        raise ValueError(f"is {FORMATS[detected]}, not {source} (use source '{detected}')")
    fmt = source or detected
    if fmt is None:
        raise ValueError("neither a posekit checkpoint nor an official one posekit reads "
                         f"({'; '.join(FORMATS.values())})")
    distiller = fmt == "mmpose" and convert_mmpose.is_distiller(checkpoint)
    if part is not None and not distiller:
        raise ValueError(f"part '{part}' applies to DWPose distiller files (student.*/teacher.* weights); "
                         "this is not one")
    note = ""
    if fmt == "mmpose":
        if part is None and distiller:
            part, note = convert_mmpose.distiller_part(checkpoint)
        state = convert_mmpose.convert_mmpose_checkpoint(checkpoint, part or "student")
        input_size: tuple[int, int] | None = convert_mmpose.checkpoint_shape(state)[1]
    elif fmt == "higherhrnet":
        state, input_size = higherhrnet_state(checkpoint), None
    else:
        state, input_size = convert_simplepose.convert_simplepose_state(unwrap(checkpoint)), None
    params = {"input_format": "bgr01"} if fmt == "simplepose" else {}
    kset = _keypoint_set(fmt, state, keypoint_set)
    name = _choose_model(fmt, state, kset, input_size, params, model)
    return OfficialWeights(fmt, state, name, kset, tuple(input_size or get_entry(name).input_size), params, note)


def load_official(path: str | Path, source: str | None = None, model: str | None = None,
                  keypoint_set: str | None = None, part: str | None = None) -> tuple[nn.Module, OfficialWeights]:
    """Read, convert and strictly load an official checkpoint file; errors are one line naming the file."""
    checkpoint = read_checkpoint(path)
    try:
        weights = convert_official(checkpoint, source, model, keypoint_set, part)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{path}: {exc.args[0] if exc.args else exc}") from None
    net = build_model(weights.model, weights.keypoint_set, weights.input_size, **weights.params)
    load_converted(net, weights, path)
    return net, weights


def load_mmpose_checkpoint(path: str | Path, model_name: str | None = None, keypoint_set: str | None = None,
                           part: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Read an mmpose .pth, build zoo `model_name` (default: the RTMPose whose shapes the weights have)
    at the checkpoint's input size and keypoint count, and load the weights with strict=True.

    Returns (model, info), info = {"model", "keypoint_set", "input_size" (w, h)}.
    """
    model, weights = load_official(path, "mmpose", model_name, keypoint_set, part)
    return model, {"model": weights.model, "keypoint_set": weights.keypoint_set, "input_size": list(weights.input_size)}


def load_converted(net: nn.Module, weights: OfficialWeights, path: str | Path) -> None:
    """Load converted weights into `net` with strict=True; a mismatch is a one-line ValueError naming
    the file, the model, its keypoint set and input size."""
    try:
        net.load_state_dict(weights.state, strict=True)
    except RuntimeError as exc:
        w, h = weights.input_size
        raise ValueError(f"{path}: does not fit {weights.model} ({weights.keypoint_set}, {h}x{w}): "
                         f"{' '.join(str(exc).split())[:300]}") from None


def experiment_dict(weights: OfficialWeights) -> dict[str, Any]:
    """The experiment config (as a dict) of a posekit checkpoint holding these weights."""
    entry = get_entry(weights.model)
    codec = {k: v for k, v in entry.codec.items() if k != "name"}
    return {"name": f"{weights.model}-from-{weights.format}", "paradigm": entry.paradigm,
            "model": {"name": weights.model, "params": dict(weights.params)},
            "codec": {"name": entry.codec["name"], "params": codec},
            "data": {"keypoint_set": weights.keypoint_set, "input_size": list(weights.input_size)}}
