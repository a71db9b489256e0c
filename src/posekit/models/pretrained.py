"""Initialise a network from weights users have: backbone-only files in the layouts they come in.

Accepted (the layout is read from the key names, never from the file name):
  - torchvision / timm ResNet state dicts (`conv1.weight`, `layer1.0.conv1.weight`, ..., `fc.*`):
    posekit's ResNet uses the same names; the classifier is left out;
  - mmdet / mmpose checkpoints (`state_dict` holding `backbone.stem.0.conv.weight`, ...; CSPNeXt): the
    `backbone.` part, onto posekit's CSPNeXt, whose names mirror mmdet's;
  - the official HRNet ImageNet weights (`conv1.weight`, `stage2.0.branches...`, `incre_modules.*`,
    `classifier.*`): the names posekit's HRNet shares; the classification-only layers are left out.
Wrappers are unwrapped first (`state_dict`, `model`, `module.`). A key present on both sides with
different shapes is an error naming it; keys only on one side are reported, not fatal, unless
nothing at all matches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posekit.models.safe_load import load_runner_checkpoint

# Layers of classification checkpoints that no pose backbone has: left out of the report.
_CLASSIFIER_PREFIXES = ("fc.", "classifier.", "head.fc.", "incre_modules.", "downsamp_modules.", "final_layer.")


@dataclass
class BackboneReport:
    """What `load_backbone` did: the file, the layout detected, and the keys loaded, missing and
    unexpected (classifier layers and num_batches_tracked are not counted)."""

    file: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)      # in the network, not in the file
    unexpected: list[str] = field(default_factory=list)   # in the file, not in the network

    def summary(self) -> str:
        """One log line: file, layout, counts of loaded/missing/unexpected tensors, a missing example."""
        return (f"{self.file}: {self.layout} backbone weights, {len(self.loaded)} tensors loaded, "
                f"{len(self.missing)} missing, {len(self.unexpected)} unexpected"
                + (f" (e.g. missing {self.missing[0]})" if self.missing else ""))


def unwrap(state: Any, source: str) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: its `state_dict` / `model` entry, without `module.`."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ValueError(f"{source}: not a state dict of named tensors")
    tensors = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{source}: holds no tensors")
    return tensors


def detect_layout(keys: list[str]) -> str:
    """'mmdet/mmpose', 'HRNet', 'torchvision/timm ResNet' or 'unknown', from the key names alone."""
    if any(k.startswith("backbone.") for k in keys):
        return "mmdet/mmpose"
    if any(k.startswith("stage2.") or k.startswith("transition1.") for k in keys):
        return "HRNet"
    if any(k.startswith("layer1.") for k in keys) and "conv1.weight" in keys:
        return "torchvision/timm ResNet"
    return "unknown"


def backbone_of(model: nn.Module) -> nn.Module:
    """The part of a pose network a backbone file initialises: `model.backbone`, else the model
    itself (HigherHRNet is an HRNet with pose layers added)."""
    return getattr(model, "backbone", model)


def load_backbone(model: nn.Module, path: str | Path) -> BackboneReport:
    """Load a backbone file into `backbone_of(model)` in place (strict=False, cast to the network's
    dtypes); ValueError on an unknown layout, a shape mismatch, or no matching key at all."""
    source = str(path)
    tensors = unwrap(load_runner_checkpoint(path, "backbone weights"), source)
    layout = detect_layout(list(tensors))
    if layout == "unknown":
        raise ValueError(f"{source}: not a backbone layout posekit reads (torchvision/timm ResNet, mmdet/mmpose "
                         f"CSPNeXt, HRNet ImageNet); first keys: {', '.join(list(tensors)[:3])}")
    if layout == "mmdet/mmpose":
        tensors = {k[len("backbone."):]: v for k, v in tensors.items() if k.startswith("backbone.")}
    tensors = {k: v for k, v in tensors.items() if not k.startswith(_CLASSIFIER_PREFIXES)}
    target = backbone_of(model)
    own = target.state_dict()
    report = BackboneReport(source, layout)
    matched = {}
    for key, value in tensors.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(own[key].shape) != tuple(value.shape):
            raise ValueError(f"{source}: '{key}' has shape {tuple(value.shape)} in the file but "
                             f"{tuple(own[key].shape)} in the network: weights for another architecture or width")
        else:
            matched[key] = value.to(own[key].dtype)
    if not matched:
        raise ValueError(f"{source}: no {layout} tensor matches this network's backbone "
                         f"({type(target).__name__}); is it the right file?")
    report.missing = [k for k in own if k not in matched and not k.endswith("num_batches_tracked")]
    report.loaded = sorted(matched)
    target.load_state_dict(matched, strict=False)
    return report
