"""Load the published mmpose RTMPose / DWPose checkpoints into posekit's RTMPose.

posekit's RTMPose mirrors mmpose's module names (`backbone.` = mmdet CSPNeXt, `head.` = RTMCCHead),
so the mapping is a matter of unwrapping: the file's `state_dict` entry, a DDP `module.` prefix, a
DWPose distiller's `student.`/`teacher.` prefix, and dropping entries that are not model weights.

EMA: mmengine's EMAHook swaps the averaged weights into `state_dict` when it saves (the raw ones go
to `ema_state_dict`), and the published files keep only `state_dict`; MMPose's `init_model` loads
`state_dict` (mmengine's load_checkpoint), so `state_dict` is the model to deploy, in published files
and runner checkpoints alike. mmcv-0.x-style `ema_*` buffers, if present, are dropped for the same reason.

Files are read weights-only (posekit.models.safe_load): a runner checkpoint's `message_hub`, `meta`,
`optimizer` and the like load as inert placeholders and are skipped; nothing in the file is run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from posekit.keypoints import available, get_keypoint_set
from posekit.models.safe_load import load_runner_checkpoint
from posekit.models.zoo import build_model, get_entry

# Entries of mmpose checkpoints that hold no weights of the deployed model: the data preprocessor's
# mean/std, the distiller's feature-alignment convs, loss modules, mmcv-0.x EMA copies.
_NON_MODEL_PREFIXES = ("data_preprocessor.", "distill_losses.", "head.loss_module.", "ema_")
DISTILLER_PARTS = ("student", "teacher")


def convert_mmpose_checkpoint(state_dict: dict[str, Any], part: str = "student") -> dict[str, torch.Tensor]:
    """An mmpose checkpoint (the loaded file, or its state_dict) -> a posekit RTMPose state dict.

    part: which network of a DWPose distiller checkpoint (keys `student.*` and `teacher.*`) to take.
    """
    if part not in DISTILLER_PARTS:
        raise ValueError(f"part must be one of {', '.join(DISTILLER_PARTS)}, got '{part}'")
    state = state_dict.get("state_dict", state_dict)
    if not isinstance(state, dict):
        raise ValueError("checkpoint 'state_dict' is not a mapping of names to tensors")
    state = {str(k).removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith(f"{p}.") for p in DISTILLER_PARTS for k in state):
        if not any(k.startswith(f"{part}.") for k in state):
            raise ValueError(f"distiller checkpoint has no '{part}.' weights")
        state = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(f"{part}.")}
    state = {k: v for k, v in state.items() if not k.startswith(_NON_MODEL_PREFIXES)}
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ValueError(f"checkpoint 'state_dict' entry '{not_tensors[0]}' is not a tensor")
    return state


def checkpoint_shape(state: dict[str, Any]) -> tuple[int, tuple[int, int]]:
    """(num_keypoints, input_size (w, h)) read from a converted state dict's head weights."""
    try:
        num_keypoints = state["head.final_layer.weight"].shape[0]
        wx, wy = state["head.cls_x.weight"].shape[0], state["head.cls_y.weight"].shape[0]
    except KeyError as exc:
        raise ValueError(f"not an RTMPose checkpoint: no '{exc.args[0]}' entry") from None
    # mmpose's SimCC split ratio for RTMPose is 2.0: bins = 2 * pixels.
    return int(num_keypoints), (wx // 2, wy // 2)


def keypoint_set_for(num_keypoints: int) -> str:
    """The built-in keypoint set with this many keypoints (an error if none or several)."""
    matches = [n for n in available() if get_keypoint_set(n).num_keypoints == num_keypoints]
    if len(matches) != 1:
        raise ValueError(f"the checkpoint predicts {num_keypoints} keypoints; name the keypoint set "
                         f"(built-in sets with that count: {', '.join(matches) or 'none'})")
    return matches[0]


def load_mmpose_checkpoint(path: str | Path, model_name: str, keypoint_set: str | None = None,
                           part: str = "student") -> tuple[nn.Module, dict[str, Any]]:
    """Read an mmpose .pth, build zoo `model_name` at the checkpoint's input size and keypoint count,
    and load the weights with strict=True.

    Returns (model, info), info = {"model", "keypoint_set", "input_size" (w, h)}.
    """
    path = Path(path)
    get_entry(model_name)
    checkpoint = load_runner_checkpoint(path)
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: not a checkpoint (a {type(checkpoint).__name__}, expected a dict)")
    try:
        state = convert_mmpose_checkpoint(checkpoint, part)
        num_keypoints, input_size = checkpoint_shape(state)
        kset = get_keypoint_set(keypoint_set or keypoint_set_for(num_keypoints))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if kset.num_keypoints != num_keypoints:
        raise ValueError(f"{path}: predicts {num_keypoints} keypoints but keypoint set "
                         f"'{kset.name}' has {kset.num_keypoints}")
    model = build_model(model_name, keypoint_set=kset, input_size=input_size)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: does not fit {model_name} ({num_keypoints} keypoints, "
                         f"{input_size[1]}x{input_size[0]}): {' '.join(str(exc).split())[:300]}") from None
    return model, {"model": model_name, "keypoint_set": kset.name, "input_size": list(input_size)}
