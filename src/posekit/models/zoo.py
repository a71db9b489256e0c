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
    size_divisor: int = 32               # input width and height must be multiples of this

    def build(self, keypoint_set: Any, input_size: tuple[int, int], **params: Any) -> nn.Module:
        """The builder called with the set's count, and with the set's name too when the builder takes
        one (a model whose outputs depend on more than the count, as Simple Pose's limb channels do)."""
        import inspect
        if "keypoint_set" in inspect.signature(self.builder).parameters and "keypoint_set" not in params:
            params["keypoint_set"] = keypoint_set.name
        return self.builder(num_keypoints=keypoint_set.num_keypoints, input_size=input_size, **params)

    def check_input_size(self, input_size: tuple[int, int]) -> tuple[int, int]:
        w, h = (int(v) for v in input_size)
        if w <= 0 or h <= 0 or w % self.size_divisor or h % self.size_divisor:
            raise ValueError(f"model '{self.name}' needs an input size (width, height) whose sides are positive "
                             f"multiples of {self.size_divisor}; got {w}x{h} (width x height)")
        return w, h


_ZOO: dict[str, ZooEntry] = {}
_MODULES = (
    "posekit.models.simplebaseline",
    "posekit.models.higherhrnet",
    "posekit.models.simplepose",
    "posekit.models.rtmpose",
)


def register_model(name: str, *, paradigm: str, input_size: tuple[int, int], keypoint_set: str,
                   codec: dict, description: str = "", size_divisor: int = 32) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _ZOO[name] = ZooEntry(name, fn, paradigm, tuple(input_size), keypoint_set, dict(codec), description,
                              size_divisor)
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
    size = entry.check_input_size(input_size or entry.input_size)
    return entry.build(kset, size, **params)
