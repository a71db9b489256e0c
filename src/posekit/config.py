"""Typed experiment configs: YAML into dataclasses, KEY=VALUE overrides, clear errors.

Every field is declared with its type; an unknown key or a value of the wrong type is an error that
names the dotted key, raised before any work starts.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml


class ConfigError(ValueError):
    """A config key is unknown or has a bad value; the message names the key."""


# ---------------------------------------------------------------------------------------------
# Generic machinery


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check (and gently coerce: int->float, list->tuple) a value against a type annotation."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"config key '{key}': {value!r} is not a {' or '.join(_type_name(a) for a in args)}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': expected a mapping, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}': expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"config key '{key}': expected {len(args)} values, got {len(value)}")
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:  # `dict[str, str]` or a bare `dict` (model.params, codec.params, ...)
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': expected a mapping, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"config key '{key}': expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}': expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}': expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}': expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass `cls` from a plain dict, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in names]
    if unknown:
        where = f" in '{prefix}'" if prefix else ""
        raise ConfigError(f"unknown config key '{_join(prefix, unknown[0])}'{where}; "
                          f"known keys: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], _join(prefix, k)) for k, v in data.items()}
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        check()
    return obj


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def check_params(fn: Callable, params: dict, key: str, supplied: Iterable[str] = (),
                 moved: dict[str, str] | None = None) -> None:
    """A free-form params section (`model.params`, `codec.params`, `loss.params`) checked against the
    keyword arguments of the callable it is passed to, before anything is built: an unknown or missing
    name, or a value of the wrong type for an annotated argument, is an error naming `key.NAME` with
    the known keys. `supplied`: arguments the caller fills in itself; `moved`: {old name: new key}."""
    parameters = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return  # takes any keyword: there is nothing to check against
    supplied = set(supplied)
    known = [n for n, p in parameters.items()
             if n not in supplied and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    listing = f"known keys: {', '.join(known) or '(none)'}"
    for name in params:
        if name in (moved or {}):
            raise ConfigError(f"config key '{key}.{name}': set {moved[name]} instead")
        if name in supplied:
            raise ConfigError(f"config key '{key}.{name}': set by the experiment (data.input_size, "
                              f"data.keypoint_set, the codec), not by {key}; {listing}")
        if name not in known:
            raise ConfigError(f"config key '{key}.{name}': unknown; {listing}")
    missing = [n for n in known if parameters[n].default is inspect.Parameter.empty and n not in params]
    if missing:
        raise ConfigError(f"config key '{key}.{missing[0]}': required; {listing}")
    hints = _type_hints(fn)
    for name, value in params.items():
        if name in hints:
            _coerce(value, hints[name], f"{key}.{name}")


def _type_hints(fn: Callable) -> dict[str, Any]:
    """The resolved annotations of a function or of a class's constructor; none where they cannot be
    resolved (a name only imported for type checking)."""
    try:
        return typing.get_type_hints(fn.__init__ if inspect.isclass(fn) else fn)
    except (NameError, TypeError, AttributeError):
        return {}


def to_dict(obj: Any) -> Any:
    """Plain dicts and lists (tuples become lists) from a config dataclass, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=VALUE` strings (VALUE parsed as YAML) onto a nested dict, in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override '{item}': cannot parse value: {_yaml_error(exc)}") from None
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}': '{part}' is not a section")
        node[parts[-1]] = value
    return data


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """Read a YAML config; a top-level `base: other.yaml` is merged underneath (relative path)."""
    if path in seen:
        raise ConfigError(f"{path}: circular 'base' include")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a YAML config is UTF-8 text)") from None
    except RecursionError:
        raise ConfigError(f"{path}: malformed YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {_yaml_error(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys")
    base = data.pop("base", None)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}: 'base' must be the path of another config, got {base!r}")
    if base:
        merged = _load_yaml((path.parent / base).resolve(), seen + (path,))
        _deep_merge(merged, data)
        return merged
    return data


def _yaml_error(exc: yaml.YAMLError) -> str:
    """PyYAML's message in one line: the problem and where (its own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def _deep_merge(into: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _deep_merge(into[k], v)
        else:
            into[k] = v


# ---------------------------------------------------------------------------------------------
# The experiment schema


@dataclass
class AugmentConfig:
    """`data.augment`: training-time augmentation probabilities and ranges."""

    flip: float = 0.5                      # probability of a horizontal flip
    half_body: float = 0.0                 # probability of the half-body crop (top-down)
    # Probability of a crop cut across the body below the shoulders (top-down; drawn only for samples the
    # half-body draw passed over): `cut_range` torso lengths below the shoulders, 0 at them, 1 at the hips.
    cut_body: float = 0.0
    cut_range: tuple[float, float] = (0.2, 1.2)
    scale: tuple[float, float] = (0.75, 1.25)
    rotation: float = 40.0                 # max |degrees|
    rotation_prob: float = 0.6
    translate: float = 0.0                 # max |pixels| of random shift (bottom-up: 40)
    hsv: bool = False                      # YOLOX-style HSV jitter
    blur: float = 0.0                      # probability of Gaussian/median blur
    coarse_dropout: float = 0.0            # probability of CoarseDropout
    bbox_padding: float = 1.25             # top-down box padding
    # How scale and rotation are drawn: "truncated" (mmpose) or "clipped" (SimpleBaseline, PoseDual,
    # SSPCM); see data.transforms.geometry.random_scale_rotation.
    jitter: str = "truncated"

    def check(self) -> None:
        """Raise ConfigError if `jitter` is not truncated or clipped, or `cut_range` is not 0 <= low <= high."""
        if self.jitter not in ("truncated", "clipped"):
            raise ConfigError(f"config key 'data.augment.jitter': '{self.jitter}' is not truncated or clipped")
        low, high = self.cut_range
        if not 0 <= low <= high:
            raise ConfigError(f"config key 'data.augment.cut_range': {list(self.cut_range)} is not [low, high] "
                              "with 0 <= low <= high")


@dataclass
class DataConfig:
    """`data`: dataset files and format, keypoint set, input size, batching and augmentation."""

    format: str = "coco"                   # coco | lsp | lspet | mpii
    train: str = ""                        # COCO JSON (or dataset root for lsp/lspet/mpii)
    train_images: str = ""                 # image folder (defaults to the JSON's folder)
    val: str = ""
    val_images: str = ""
    # COCO and MPII image paths must stay inside the image folder; true trusts absolute paths (as `posekit convert`
    # writes them by default) and `../` in the annotation file.
    allow_absolute_paths: bool = False
    keypoint_set: str = "coco17"
    input_size: tuple[int, int] = (192, 256)  # (width, height)
    batch_size: int = 32
    val_batch_size: int = 32
    workers: int = 2
    max_train_samples: int = 0             # 0 = all (a quick mode sets a handful)
    max_val_samples: int = 0
    image_ids: list[int] = field(default_factory=list)  # keep only these image ids (both splits); [] = all
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # A second (usually lighter) augmentation for the last `final_augment_epochs` epochs, as
    # RTMPose's recipe switches pipelines for its final 30 epochs. None = keep `augment` throughout.
    final_augment: AugmentConfig | None = None
    final_augment_epochs: int = 0

    def check(self) -> None:
        """Raise ConfigError on a bad format, non-positive size or batch, or a half-set final_augment."""
        if (self.final_augment is None) != (self.final_augment_epochs == 0):
            raise ConfigError("config keys 'data.final_augment' and 'data.final_augment_epochs' go together: "
                              "set both or neither")
        if self.format not in ("coco", "lsp", "lspet", "mpii"):
            raise ConfigError(f"config key 'data.format': '{self.format}' is not one of coco, lsp, lspet, mpii")
        if min(self.input_size) <= 0:
            raise ConfigError("config key 'data.input_size': sizes must be positive")
        if self.batch_size <= 0:
            raise ConfigError("config key 'data.batch_size': must be positive")
        if self.val_batch_size <= 0:
            raise ConfigError("config key 'data.val_batch_size': must be positive")
        if self.workers < 0:
            raise ConfigError("config key 'data.workers': must be >= 0 (0 = load in the main process)")


@dataclass
class ModelConfig:
    """`model`: the zoo model, its builder arguments and initial weights."""

    name: str = "simplebaseline-res18"     # a zoo name (`posekit models`)
    # Initial weights for every network of the strategy: a posekit checkpoint or model file (the whole
    # network), or backbone weights (torchvision/timm ResNet, mmdet/mmpose CSPNeXt, HRNet ImageNet).
    pretrained: str = ""
    network_pretrained: dict[str, str] = field(default_factory=dict)  # per network, e.g. {teacher1: a.pth}
    params: dict = field(default_factory=dict)  # the zoo builder's keyword arguments (checked against it)


@dataclass
class CodecConfig:
    """`codec`: the target encoding/decoding; by default the zoo model's own codec."""

    name: str | None = None                # None: the zoo model's codec; else heatmap | simcc | ...
    params: dict = field(default_factory=dict)  # the codec's arguments, over the zoo's for its own codec


@dataclass
class LossConfig:
    """`loss`: the training loss; by default the codec's own loss."""

    name: str | None = None                # None: the codec's default loss; else a models.losses name
    params: dict = field(default_factory=dict)  # the loss's arguments (checked against it)


@dataclass
class TrainConfig:
    """`train`: optimiser, learning-rate schedule, run length, precision, EMA and validation."""

    epochs: int = 10
    optimizer: str = "adam"                # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    no_decay_norm_bias: bool = True        # no weight decay on norm layers and biases
    momentum: float = 0.9                  # sgd only
    schedule: str = "step"                 # step | periodic | cosine | constant
    steps: list[int] = field(default_factory=list)  # epochs at which step decay applies
    gamma: float = 0.1
    # periodic: x gamma every `step_every` epochs; from `restart_epoch` (if > 0) the count restarts
    # at 0 (lr back to its base) and steps every `restart_step_every` epochs (Simple Pose: 15, 78, 5).
    step_every: int = 0
    restart_epoch: int = 0
    restart_step_every: int = 0
    warmup_iters: int = 0
    warmup_ratio: float = 0.001
    min_lr_ratio: float = 0.0              # cosine floor as a fraction of lr
    cosine_begin_epoch: int = 0            # lr stays flat until this epoch, then the cosine (RTMPose: epochs // 2)
    clip_grad: float = 0.0                 # max grad norm; 0 = off
    amp: bool = True                       # only takes effect on CUDA
    ema: bool = False
    ema_momentum: float = 2e-4
    seed: int = 0
    deterministic: bool = False
    max_iters_per_epoch: int = 0           # 0 = full epoch; quick modes cap it
    # Iterations per epoch with the labeled samples redrawn with replacement to fill them (0 = one pass
    # over the training set, or over the unlabeled pool for semi-supervised strategies). Lets a
    # supervised baseline run exactly as many iterations as a semi-supervised run beside it.
    epoch_iters: int = 0
    # End the run after this many epochs while the schedule still spans `epochs` (the first stage of a
    # staged recipe; rerunning with a larger value continues exactly). 0 = run all `epochs`.
    stop_epoch: int = 0
    log_interval: int = 10
    val_interval: int = 1                  # epochs between validations; 0 = never
    flip_test: bool = True
    # Recompute BatchNorm running statistics over this many labeled training batches at the end of
    # each epoch (0 = off, as published); see training/precise_bn.py.
    precise_bn_batches: int = 0
    metric: str = ""                       # metric that picks the best checkpoint ("" = estimator default)

    def check(self) -> None:
        """Raise ConfigError on an unknown optimiser or schedule, a periodic schedule without its step,
        or an epoch count, lr or iteration count out of range."""
        if self.epoch_iters < 0:
            raise ConfigError(f"config key 'train.epoch_iters': want >= 0 (0 = one pass), got {self.epoch_iters}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"config key 'train.optimizer': '{self.optimizer}' is not one of adam, adamw, sgd")
        if self.schedule not in ("step", "periodic", "cosine", "constant"):
            raise ConfigError(f"config key 'train.schedule': '{self.schedule}' is not one of step, periodic, cosine, "
                              "constant")
        if self.schedule == "periodic" and self.step_every <= 0:
            raise ConfigError("config key 'train.step_every': the periodic schedule needs a positive step_every")
        if self.restart_epoch > 0 and self.restart_step_every <= 0:
            raise ConfigError("config key 'train.restart_step_every': must be positive when restart_epoch is set")
        if self.epochs <= 0:
            raise ConfigError("config key 'train.epochs': must be positive")
        if self.lr <= 0:
            raise ConfigError("config key 'train.lr': must be positive")
        if self.precise_bn_batches < 0:
            raise ConfigError("config key 'train.precise_bn_batches': must be >= 0")
        if not 0 <= self.seed < 2 ** 64:
            raise ConfigError(f"config key 'train.seed': must be in [0, 2**64), got {self.seed}")
        # Negative ratios would make the learning rate negative during warm-up or at the cosine's end.
        for key in ("warmup_ratio", "min_lr_ratio"):
            if getattr(self, key) < 0:
                raise ConfigError(f"config key 'train.{key}': must be >= 0, got {getattr(self, key)}")


@dataclass
class ExperimentConfig:
    """A whole experiment: the top level of a config YAML, one section per field."""

    name: str = "experiment"
    paradigm: str | None = None            # None: the zoo model's; stated, it must be the zoo's
    strategy: str = "supervised"           # registered in training/strategies: supervised | distill | posedual | sspcm
    out_dir: str = "runs/experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    strategy_params: dict = field(default_factory=dict)  # typed by each strategy itself

    def check(self) -> None:
        """Check the paradigm; move a legacy `codec.params.loss` to `loss.params` (mutates self)."""
        if self.paradigm not in (None, "topdown", "bottomup"):
            raise ConfigError(f"config key 'paradigm': '{self.paradigm}' is not one of topdown, bottomup")
        if "loss" in self.codec.params:
            # Compatibility: before the `loss` section, Simple Pose configs (and the checkpoints that
            # store them) gave its loss settings as codec.params.loss.
            if self.loss.params:
                raise ConfigError("config keys 'codec.params.loss' and 'loss.params': give the loss settings "
                                  "once, under loss.params")
            params = dict(self.codec.params)
            legacy = params.pop("loss") or {}
            if not isinstance(legacy, dict):
                raise ConfigError(f"config key 'codec.params.loss': expected a mapping, got {legacy!r} "
                                  "(loss settings now go under loss.params)")
            self.loss.params, self.codec.params = legacy, params


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load a YAML config (with its `base` chain), apply KEY=VALUE overrides, then type-check it.

    No path gives the defaults plus overrides. Raises ConfigError naming the bad key.
    """
    data = _load_yaml(Path(path)) if path else {}
    apply_overrides(data, list(overrides or []))
    return from_dict(ExperimentConfig, data)
