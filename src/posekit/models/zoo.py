"""The model zoo: named builders, each with its estimator, default input size, keypoint set and codec.

Each model module registers its names with `register_model`; every module of `posekit.models` is
imported on first use (posekit.registry), so `posekit models` sees them all and a new model is a new file.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from posekit.codecs import make_codec
from posekit.keypoints import KeypointSet, get_keypoint_set
from posekit.registry import Registry


@dataclass(frozen=True)
class EstimatorKind:
    """Names an estimator class of `posekit.estimators` (a layer above the zoo, so named, not imported;
    each class there declares the kind it implements) and the paradigm that class works in."""
    name: str
    paradigm: str                        # topdown | bottomup


TOPDOWN = EstimatorKind("topdown", "topdown")                                    # TopDownEstimator
ASSOCIATIVE_EMBEDDING = EstimatorKind("associative_embedding", "bottomup")       # BottomUpEstimator
SIMPLEPOSE = EstimatorKind("simplepose", "bottomup")                             # SimplePoseEstimator

# Builder arguments the zoo supplies (never model params): the keypoint count, the input size, the
# keypoint set's name, and the codec's output geometry (`output_size`, e.g. SimCC's bins).
SUPPLIED = ("num_keypoints", "input_size", "keypoint_set", "output_size", "output_channels")


@dataclass(frozen=True)
class ZooEntry:
    """One registered model: its builder and the defaults (input size, keypoint set, codec) it was
    published with; `build` fills in the arguments the zoo supplies."""

    name: str
    builder: Callable[..., nn.Module]   # builder(num_keypoints=K, input_size=(w, h), **params)
    estimator: EstimatorKind             # the estimator class that trains and runs the model
    input_size: tuple[int, int]          # default (width, height)
    keypoint_set: str                    # default keypoint set name
    codec: dict = field(default_factory=dict)  # {"name": ..., **params} the model is trained with
    description: str = ""
    size_divisor: int = 32               # input width and height must be multiples of this
    # Params that moved elsewhere: {old model param: the config key to set instead}.
    moved_params: dict = field(default_factory=dict)

    @property
    def paradigm(self) -> str:
        """'topdown' or 'bottomup', that of the entry's estimator."""
        return self.estimator.paradigm

    @property
    def codec_name(self) -> str:
        """Registry name of the codec the model is trained with by default (e.g. 'heatmap', 'simcc')."""
        return self.codec["name"]

    def codec_params(self, name: str | None = None) -> dict[str, Any]:
        """The zoo's codec params for codec `name` (None: the zoo's codec); none for another codec."""
        if name not in (None, self.codec_name):
            return {}
        return {k: v for k, v in self.codec.items() if k != "name"}

    def make_codec(self, keypoint_set: KeypointSet, input_size: tuple[int, int], name: str | None = None,
                   params: dict | None = None) -> Any:
        """Codec `name` (None: the zoo's), the zoo's params for it updated by `params`."""
        merged = {**self.codec_params(name), **(params or {})}
        return make_codec(name or self.codec_name, input_size, keypoint_set, merged)

    def build(self, keypoint_set: Any, input_size: tuple[int, int], codec: Any = None, **params: Any) -> nn.Module:
        """The builder called with the set's count, and, where the builder takes them, the set's name
        (a model whose outputs depend on more than the count, as Simple Pose's limb channels do) and
        the codec's `output_size` or `num_channels` (a head sized by its codec, as RTMPose's SimCC
        classifiers and Simple Pose's body-part channels are; the zoo's codec when none is given)."""
        wanted = inspect.signature(self.builder).parameters
        if "keypoint_set" in wanted and "keypoint_set" not in params:
            params["keypoint_set"] = keypoint_set.name
        if "output_size" in wanted or "output_channels" in wanted:
            codec = codec if codec is not None else self.make_codec(keypoint_set, input_size)
        if "output_size" in wanted:
            params["output_size"] = tuple(codec.output_size)
        if "output_channels" in wanted:  # a layout the codec defines (Simple Pose: limbs + keypoints + 2)
            params["output_channels"] = int(codec.num_channels)
        return self.builder(num_keypoints=keypoint_set.num_keypoints, input_size=input_size, **params)

    def check_input_size(self, input_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) as ints; ValueError unless both are positive multiples of `size_divisor`."""
        w, h = (int(v) for v in input_size)
        if w <= 0 or h <= 0 or w % self.size_divisor or h % self.size_divisor:
            raise ValueError(f"model '{self.name}' needs an input size (width, height) whose sides are positive "
                             f"multiples of {self.size_divisor}; got {w}x{h} (width x height)")
        return w, h


_ZOO: Registry[ZooEntry] = Registry("model", "posekit.models")


def register_model(name: str, *, estimator: EstimatorKind, input_size: tuple[int, int], keypoint_set: str,
                   codec: dict, description: str = "", size_divisor: int = 32, moved_params: dict | None = None
                   ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator adding the builder to the zoo under `name` (a later registration replaces it) and
    returning the builder unchanged. codec is {"name": ..., **params}; input_size is (w, h)."""
    if "name" not in codec:
        raise ValueError(f"register_model('{name}'): codec must name the codec ({{'name': ..., **params}})")

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _ZOO.add(name, ZooEntry(name, fn, estimator, tuple(input_size), keypoint_set, dict(codec), description,
                                size_divisor, dict(moved_params or {})))
        return fn
    return wrap


def list_models() -> list[ZooEntry]:
    """Every registered entry, sorted by name; imports the model modules first (each registers its names)."""
    return [_ZOO[k] for k in _ZOO]


def get_entry(name: str) -> ZooEntry:
    """The entry registered as `name`; KeyError listing the zoo (`posekit models`) where there is none."""
    return _ZOO[name]


def is_model_name(name: str) -> bool:
    """Whether `name` is a registered zoo model (`posekit models`), as opposed to, say, a file path."""
    try:
        get_entry(name)
    except (KeyError, ValueError):
        return False
    return True


def build_model(name: str, keypoint_set: str | None = None, input_size: tuple[int, int] | None = None,
                **params: Any) -> nn.Module:
    """Model `name` for a keypoint set and (w, h) input size (None: the entry's defaults), freshly
    initialised; params go to the builder (see `ZooEntry.build`)."""
    entry = get_entry(name)
    kset = get_keypoint_set(keypoint_set or entry.keypoint_set)
    size = entry.check_input_size(input_size or entry.input_size)
    return entry.build(kset, size, **params)
