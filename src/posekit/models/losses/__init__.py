"""Losses: plain functions/modules shared by estimators and strategies, and the registry of training
losses an estimator is built with (`loss.name` in a config; empty = the codec's `default_loss`).

A registered loss is an nn.Module class built as `cls(codec, keypoint_set, **params)` (its other
constructor arguments are the config's `loss.params`) whose `forward(outputs, batch)` takes the
network's raw outputs and a batch holding the codec's targets, and returns {"loss": scalar, ...parts}.
"""
from __future__ import annotations

from typing import Any, Callable

from posekit.keypoints import KeypointSet
from posekit.registry import Registry

_LOSSES: Registry[type] = Registry("loss", "posekit.models.losses")
SUPPLIED = ("codec", "keypoint_set")  # constructor arguments the estimator builder hands over


def register_loss(name: str) -> Callable[[type], type]:
    """Class decorator registering a loss under `name` (a later registration replaces it)."""
    return _LOSSES.decorator(name)


def loss_class(name: str) -> type:
    """The loss class registered as `name`, importing the loss modules first; KeyError listing them."""
    return _LOSSES[name]


def build_loss(name: str, codec: Any, keypoint_set: KeypointSet, **params: Any) -> Any:
    """Loss module `name` for this codec and keypoint set; params are the config's `loss.params`."""
    return loss_class(name)(codec, keypoint_set, **params)
