"""The one way an estimator is built: a zoo model, the estimator class its zoo entry names, a codec
(the zoo's unless named) and a loss (the codec's default unless named).

Nothing here switches on names: the zoo entry names the estimator class (`EstimatorKind`), the
codec class names its default loss, and the registries (`codecs`, `models.losses`) hold the rest.
Every params section is checked against the signature it is passed to before anything is built.
"""
from __future__ import annotations

from typing import Any, Callable

from posekit import codecs
from posekit.config import ConfigError, check_params
from posekit.estimators.base import Estimator, estimator_class
from posekit.keypoints import KeypointSet, get_keypoint_set
from posekit.models import losses
from posekit.models.zoo import SUPPLIED as MODEL_SUPPLIED
from posekit.models.zoo import ZooEntry, get_entry


def split_named(section: dict | None) -> tuple[str | None, dict]:
    """{"name": ..., **params}, the name optional -> (name or None, params)."""
    params = dict(section or {})
    return params.pop("name", None), params


def _lookup(find: Callable[[str], type], name: str, key: str) -> type:
    try:
        return find(name)
    except KeyError as exc:
        raise ConfigError(f"config key '{key}': {exc.args[0]}") from None


def check_estimator(model: str, paradigm: str | None = None, codec: str | None = None,
                    codec_params: dict | None = None, model_params: dict | None = None,
                    loss: str | None = None, loss_params: dict | None = None) -> ZooEntry:
    """What `build_estimator` is given, checked without building anything (a config's errors come
    before any work): the paradigm against the zoo's, the names against the registries, and each
    params section against the builder, codec or loss it goes to. Returns the zoo entry."""
    entry = _lookup(get_entry, model, "model.name")
    if paradigm is not None and paradigm != entry.paradigm:
        raise ConfigError(f"config key 'paradigm': '{paradigm}', but model '{model}' is {entry.paradigm} "
                          "(the zoo knows it: leave paradigm out)")
    check_params(entry.builder, dict(model_params or {}), "model.params", MODEL_SUPPLIED, entry.moved_params)
    codec_cls = _lookup(codecs.codec_class, codec or entry.codec_name, "codec.name")
    merged = {**entry.codec_params(codec), **(codec_params or {})}
    check_params(codec_cls, merged, "codec.params", codecs.SUPPLIED)
    default_loss = getattr(codec_cls, "default_loss", None)
    if not (loss or default_loss):
        raise ConfigError(f"config key 'loss.name': codec '{codec or entry.codec_name}' names no default loss")
    loss_cls = _lookup(losses.loss_class, loss or default_loss, "loss.name")
    check_params(loss_cls, dict(loss_params or {}), "loss.params", losses.SUPPLIED)
    return entry


def build_estimator(model: str, keypoint_set: str | KeypointSet | None = None,
                    input_size: tuple[int, int] | None = None, codec: str | None = None,
                    codec_params: dict | None = None, model_params: dict | None = None, loss: str | None = None,
                    loss_params: dict | None = None, paradigm: str | None = None, **options: Any) -> Estimator:
    """Zoo model `model` for `keypoint_set` at `input_size` (None: the zoo's), with codec `codec`
    (None: the zoo's; the zoo's params apply to its own codec, `codec_params` over them) and loss
    `loss` (None: the codec's `default_loss`). The model is built after the codec and takes its
    output geometry from it (RTMPose's SimCC bins), so the two always agree. `paradigm`, when given,
    must be the zoo's; `options` go to the estimator class (e.g. test_scales)."""
    entry = check_estimator(model, paradigm, codec, codec_params, model_params, loss, loss_params)
    kset = get_keypoint_set(keypoint_set or entry.keypoint_set)
    size = entry.check_input_size(input_size or entry.input_size)
    estimator_cls = estimator_class(entry.estimator)
    codec_obj = entry.make_codec(kset, size, codec, codec_params)
    if not isinstance(codec_obj, estimator_cls.codec_type):
        raise ConfigError(f"config key 'codec.name': model '{model}' runs with {estimator_cls.__name__}, which needs "
                          f"a {estimator_cls.codec_type.__name__}; codec '{codec}' is a {type(codec_obj).__name__}")
    network = entry.build(kset, size, codec=codec_obj, **dict(model_params or {}))
    loss_fn = losses.build_loss(loss or codec_obj.default_loss, codec_obj, kset, **dict(loss_params or {}))
    return estimator_cls(network, codec_obj, kset, loss_fn, **options)
