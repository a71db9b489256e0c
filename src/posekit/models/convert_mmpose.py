"""Load the published mmpose RTMPose / DWPose checkpoints into posekit's RTMPose.

posekit's RTMPose mirrors mmpose's module names (`backbone.` = mmdet CSPNeXt, `head.` = RTMCCHead),
so the mapping is a matter of unwrapping: the file's `state_dict` entry, a DDP `module.` prefix, a
DWPose distiller's `student.`/`teacher.` prefix, and dropping entries that are not model weights.

Distiller files (DWPose training, before its `pth_transfer.py`) hold two networks. Stage 1 distils a
larger teacher into a smaller student: the student is the deliverable. Stage 2 (self-distillation)
trains only the student's head, on the frozen teacher's backbone features, and MMPose deploys the
teacher's backbone with the student's head (`pth_transfer.py --two_dis`): the `merged` part. Both
networks of a stage-2 file have the same architecture, which is how `distiller_part` tells the stages
apart when no part is named.

EMA: mmengine's EMAHook swaps the averaged weights into `state_dict` when it saves (the raw ones go
to `ema_state_dict`), and the published files keep only `state_dict`; MMPose's `init_model` loads
`state_dict` (mmengine's load_checkpoint), so `state_dict` is the model to deploy, in published files
and runner checkpoints alike. mmcv-0.x-style `ema_*` buffers, if present, are dropped for the same reason.

Files are read weights-only (posekit.models.safe_load): a runner checkpoint's `message_hub`, `meta`,
`optimizer` and the like load as inert placeholders and are skipped; nothing in the file is run.
"""
from __future__ import annotations

from typing import Any

import torch

from posekit.keypoints import available, get_keypoint_set

# Entries of mmpose checkpoints that hold no weights of the deployed model: the data preprocessor's
# mean/std, the distiller's feature-alignment convs, loss modules, mmcv-0.x EMA copies.
_NON_MODEL_PREFIXES = ("data_preprocessor.", "distill_losses.", "head.loss_module.", "ema_")
DISTILLER_NETWORKS = ("student", "teacher")
DISTILLER_PARTS = (*DISTILLER_NETWORKS, "merged")


def _state_of(checkpoint: dict[str, Any]) -> dict[str, Any]:
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict):
        raise ValueError("checkpoint 'state_dict' is not a mapping of names to tensors")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def _network(state: dict[str, Any], name: str) -> dict[str, Any]:
    prefix = f"{name}."
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix) and not k[len(prefix):].startswith(_NON_MODEL_PREFIXES)}


def is_distiller(checkpoint: dict[str, Any]) -> bool:
    """True where the checkpoint (the file, or its state_dict) holds `student.`/`teacher.` weights."""
    return any(k.startswith(f"{n}.") for n in DISTILLER_NETWORKS for k in _state_of(checkpoint))


def distiller_part(checkpoint: dict[str, Any]) -> tuple[str, str]:
    """(part, why) to deploy from a distiller checkpoint when none is named: `merged` for a stage-2
    file (student and teacher with the same names and shapes), else `student`."""
    state = _state_of(checkpoint)
    student, teacher = _network(state, "student"), _network(state, "teacher")
    shapes = {k: tuple(getattr(v, "shape", ())) for k, v in student.items()}
    if student and shapes == {k: tuple(getattr(v, "shape", ())) for k, v in teacher.items()}:
        return "merged", ("stage-2 DWPose distiller file (student and teacher have the same architecture): "
                          "taking the teacher's backbone with the student's head, as MMPose deploys it")
    return "student", "distiller file: taking the student (--part teacher for the teacher)"


def convert_mmpose_checkpoint(state_dict: dict[str, Any], part: str | None = "student") -> dict[str, torch.Tensor]:
    """An mmpose checkpoint (the loaded file, or its state_dict) -> a posekit RTMPose state dict.

    part: what to take from a DWPose distiller checkpoint (keys `student.*` and `teacher.*`): one
    network, or `merged` (teacher backbone + student head); None chooses by `distiller_part`.
    """
    if part is not None and part not in DISTILLER_PARTS:
        raise ValueError(f"part must be one of {', '.join(DISTILLER_PARTS)}, got '{part}'")
    state = _state_of(state_dict)
    if any(k.startswith(f"{n}.") for n in DISTILLER_NETWORKS for k in state):
        part = part or distiller_part(state)[0]
        if part == "merged":
            teacher, student = _network(state, "teacher"), _network(state, "student")
            if not teacher or not student:
                raise ValueError("part 'merged' needs both 'student.' and 'teacher.' weights")
            state = {**{k: v for k, v in teacher.items() if k.startswith("backbone.")},
                     **{k: v for k, v in student.items() if k.startswith("head.")}}
        else:
            state = _network(state, part)
            if not state:
                raise ValueError(f"distiller checkpoint has no '{part}.' weights")
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

