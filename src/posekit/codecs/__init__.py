"""Codecs: keypoints -> training targets (encode) and network outputs -> keypoints (decode).

Pure functions of arrays, shared by the dataset (encode) and the estimator (decode). Each codec
module registers a builder with `register_codec`; `build_codec(name, **params)` makes one.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

_CODECS: dict[str, Callable[..., Any]] = {}
# Modules that register codecs; imported on first use so `import posekit.codecs` stays light.
_MODULES = (
    "posekit.codecs.heatmap",
    "posekit.codecs.associative_embedding",
    "posekit.codecs.bodypart",
    "posekit.codecs.simcc",
)


def register_codec(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        _CODECS[name] = fn
        return fn
    return wrap


def _load() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def available_codecs() -> list[str]:
    _load()
    return sorted(_CODECS)


def build_codec(name: str, **params: Any) -> Any:
    _load()
    if name not in _CODECS:
        raise KeyError(f"unknown codec '{name}'; available: {', '.join(sorted(_CODECS))}")
    return _CODECS[name](**params)
