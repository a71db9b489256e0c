"""The model zoo: named builders, each with its default input size, keypoint set and codec.

Each model module registers its names with `register_model`; the modules listed in `_MODULES` are
imported on first use so that `posekit models` sees them all.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from posekit.keypoints import get_keypoint_set


@dataclass(frozen=True)
class ZooEntry:
    name: str
    builder: Callable[..., nn.Module]   # builder(num_keypoints=K, input_size=(w, h), **params)
    paradigm: str                        # topdown | bottomup
    input_size: tuple[int, int]          # default (width, height)
    keypoint_set: str                    # default keypoint set name
    codec: dict = field(default_factory=dict)  # {"name": ..., **params} the model is trained with
    description: str = ""


_ZOO: dict[str, ZooEntry] = {}
_MODULES = (
    "posekit.models.simplebaseline",
    "posekit.models.simplepose",
    "posekit.models.rtmpose",
)


def register_model(name: str, *, paradigm: str, input_size: tuple[int, int], keypoint_set: str,
                   codec: dict, description: str = "") -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _ZOO[name] = ZooEntry(name, fn, paradigm, tuple(input_size), keypoint_set, dict(codec), description)
        return fn
    return wrap


def _load() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def list_models() -> list[ZooEntry]:
    _load()
    return [_ZOO[k] for k in sorted(_ZOO)]


def get_entry(name: str) -> ZooEntry:
    _load()
    if name not in _ZOO:
        raise KeyError(f"unknown model '{name}'; `posekit models` lists the zoo: {', '.join(sorted(_ZOO))}")
    return _ZOO[name]


def build_model(name: str, keypoint_set: str | None = None, input_size: tuple[int, int] | None = None,
                **params: Any) -> nn.Module:
    entry = get_entry(name)
    kset = get_keypoint_set(keypoint_set or entry.keypoint_set)
    return entry.builder(num_keypoints=kset.num_keypoints, input_size=tuple(input_size or entry.input_size), **params)
