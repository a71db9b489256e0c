"""Official Simple Pose weights (jialee93/Improved-Body-Parts) -> posekit's IMHN, by name.

The official PoseNet (`models/posenet.py`, blocks in `models/layers_transposed.py`) and posekit's IMHN
are the same network with different module names; each rule below maps one official module path to
its posekit counterpart (the parameter or buffer name after it is unchanged):

  official                                   posekit
  pre.conv1 / pre.bn1                        stem.conv1.0 / .1
  pre.res{1,2}.convBlock.i / .skipConv.i     stem.res{1,2}.block.i / .skip.i
  pre.dilation.i.conv / .bn                  stem.dilated.i.0 / .1
  hourglass.s.hg.d.{0,1,2,4}.<residual>      hourglass.s.levels.d.{skip,down,up,inner}.<residual>
  hourglass.s.hg.d.3.conv / .bn              hourglass.s.levels.d.refine.0 / .1
  features.s.before_regress.j.{0,1}.conv/.bn features.s.j.{0,1}.0 / .1
  features.s.before_regress.j.2.fc.i         features.s.j.2.fc.i          (the SE layer)
  outs.s.j.conv                              outs.s.j.0
  merge_{features,preds}.s.j.conv.conv / .bn merge_{features,preds}.s.j.0 / .1

The training scripts save `{"weights": Network.state_dict() (keys "posenet.*"), "optimizer_weight",
"train_loss", "epoch"}`; `train.py`'s bare PoseNet has no prefix. The published network is built with
bn=True (BatchNorm after every Conv); `train.py` builds bn=False, which posekit's IMHN does not have.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import torch

_RESIDUAL = {"convBlock": "block", "skipConv": "skip"}
_LEVEL_SLOT = {"0": "skip", "1": "down", "2": "up", "4": "inner"}  # Hourglass._make_lower_residual order
_CONV = {"conv": "0", "bn": "1"}  # official Conv(conv, bn) -> posekit ConvBlock(0, 1)

_RULES: list[tuple[str, Callable[[re.Match], str]]] = [
    (r"pre\.conv1", lambda m: "stem.conv1.0"),
    (r"pre\.bn1", lambda m: "stem.conv1.1"),
    (r"pre\.(res[12])\.(convBlock|skipConv)\.(\d+)", lambda m: f"stem.{m[1]}.{_RESIDUAL[m[2]]}.{m[3]}"),
    (r"pre\.dilation\.(\d+)\.(conv|bn)", lambda m: f"stem.dilated.{m[1]}.{_CONV[m[2]]}"),
    (r"hourglass\.(\d+)\.hg\.(\d+)\.([0124])\.(convBlock|skipConv)\.(\d+)",
     lambda m: f"hourglass.{m[1]}.levels.{m[2]}.{_LEVEL_SLOT[m[3]]}.{_RESIDUAL[m[4]]}.{m[5]}"),
    (r"hourglass\.(\d+)\.hg\.(\d+)\.3\.(conv|bn)", lambda m: f"hourglass.{m[1]}.levels.{m[2]}.refine.{_CONV[m[3]]}"),
    (r"features\.(\d+)\.before_regress\.(\d+)\.([01])\.(conv|bn)",
     lambda m: f"features.{m[1]}.{m[2]}.{m[3]}.{_CONV[m[4]]}"),
    (r"features\.(\d+)\.before_regress\.(\d+)\.2\.fc\.(\d+)", lambda m: f"features.{m[1]}.{m[2]}.2.fc.{m[3]}"),
    (r"outs\.(\d+)\.(\d+)\.conv", lambda m: f"outs.{m[1]}.{m[2]}.0"),
    (r"(merge_features|merge_preds)\.(\d+)\.(\d+)\.conv\.(conv|bn)", lambda m: f"{m[1]}.{m[2]}.{m[3]}.{_CONV[m[4]]}"),
]
_COMPILED = [(re.compile(pattern), build) for pattern, build in _RULES]

SIGNATURE = ("pre.conv1.weight", "hourglass.0.hg.0.0.convBlock.0.weight", "outs.0.0.conv.weight")


def posekit_name(official: str) -> str:
    """The posekit IMHN state-dict key of one official PoseNet key (ValueError if no rule maps it)."""
    module, _, leaf = official.rpartition(".")
    for pattern, build in _COMPILED:
        found = pattern.fullmatch(module)
        if found:
            return f"{build(found)}.{leaf}"
    raise ValueError(f"Simple Pose key '{official}' has no posekit counterpart")


def strip_wrapper(state: dict[str, Any]) -> dict[str, Any]:
    """Drop the `posenet.` prefix of the training scripts' Network wrapper."""
    if any(k.startswith("posenet.") for k in state):
        return {k.removeprefix("posenet."): v for k, v in state.items() if k.startswith("posenet.")}
    return state


def convert_simplepose_state(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """An official PoseNet state dict (prefix `posenet.` or none) -> posekit IMHN names, float32."""
    state = strip_wrapper(state)
    if not all(k in state for k in SIGNATURE):
        raise ValueError("not an official Simple Pose (Improved-Body-Parts) PoseNet state dict: no "
                         f"'{next(k for k in SIGNATURE if k not in state)}' entry")
    if "features.0.before_regress.0.0.bn.weight" not in state:
        raise ValueError("a Simple Pose network built with bn=False (train.py): posekit's IMHN is the published "
                         "bn=True network, with BatchNorm after every conv")
    converted = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"entry '{key}' is not a tensor")
        converted[posekit_name(key)] = value.float() if value.is_floating_point() else value
    return converted
