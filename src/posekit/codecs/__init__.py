"""Codecs: keypoints -> training targets (encode) and network outputs -> keypoints (decode).

Pure functions of arrays, shared by the dataset (encode) and the estimator (decode). Each codec
module registers its class with `register_codec`; `build_codec(name, **params)` makes one, and
`make_codec` makes one for a keypoint set and input size (what estimators and datasets use). Every
codec follows `codecs.base.TopDownCodec` or `codecs.base.BottomUpCodec`.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from posekit.keypoints import KeypointSet
from posekit.registry import Registry

_CODECS: Registry[type] = Registry("codec", "posekit.codecs")
# Constructor arguments that come from the experiment (data.input_size, data.keypoint_set), never
# from codec params.
SUPPLIED = ("input_size", "keypoint_set", "num_keypoints")


def register_codec(name: str) -> Callable[[type], type]:
    """Class decorator: make the codec buildable as `name` (config key `codec.name`)."""
    return _CODECS.decorator(name)


def available_codecs() -> list[str]:
    """Sorted registered codec names. Every module of the package registers its codec when imported,
    on first lookup (posekit.registry): a new codec is a new file, and `import posekit.codecs` stays light."""
    return _CODECS.names()


def codec_class(name: str) -> type:
    """The class registered as `name`; KeyError listing the available names if none is."""
    return _CODECS[name]


def build_codec(name: str, **params: Any) -> Any:
    """Codec `name` built with exactly these constructor arguments (make_codec fills in size and set)."""
    return codec_class(name)(**params)


def make_codec(name: str, input_size: tuple[int, int], keypoint_set: KeypointSet, params: dict[str, Any]) -> Any:
    """Codec `name` for this input size and keypoint set: the set is handed over as the constructor
    asks for it (a codec whose layout follows the set takes the set itself, others its count)."""
    wanted = inspect.signature(codec_class(name)).parameters
    supplied: dict[str, Any] = {"input_size": input_size}
    if "keypoint_set" in wanted:
        supplied["keypoint_set"] = keypoint_set
    if "num_keypoints" in wanted:
        supplied["num_keypoints"] = keypoint_set.num_keypoints
    return build_codec(name, **supplied, **params)
