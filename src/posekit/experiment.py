"""Build everything an experiment needs from its typed config: data, estimator, loaders,
evaluator, strategy, trainer. The CLI verbs `train`, `eval` and `demo` are thin layers over this."""
from __future__ import annotations

import importlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from posekit.config import ConfigError, ExperimentConfig, from_dict, to_dict
from posekit.data.convert import to_coco_dict
from posekit.data.records import DataError, PoseData
from posekit.estimators.base import Estimator
from posekit.keypoints import get_keypoint_set

# Strategy name -> "module:builder"; a builder is builder(cfg, estimator_factory) -> Strategy.
STRATEGIES = {
    "supervised": "posekit.experiment:build_supervised",
    "posedual": "posekit.training.strategies.posedual:build_posedual",
    "sspcm": "posekit.training.strategies.sspcm:build_sspcm",
    "distill": "posekit.training.strategies.distill:build_distill",
}


# ------------------------------------------------------------------------------------------ data
def load_split(cfg: ExperimentConfig, split: str) -> PoseData:
    """The train or val annotations named by `data.train` / `data.val` in the configured format."""
    from posekit.data import readers

    d = cfg.data
    source = d.train if split == "train" else d.val
    images = (d.train_images if split == "train" else d.val_images) or None
    if not source:
        raise ConfigError(f"config key 'data.{split}' is empty: name the annotations to use")
    kset = d.keypoint_set
    if d.format == "coco":
        data = readers.read_coco(source, images, kset, allow_absolute_paths=d.allow_absolute_paths)
    elif d.format == "lsp":
        # One LSP root serves both splits: images 1-1000 train, 1001-2000 test.
        data = readers.read_lsp(source, split="train" if split == "train" else "test")
    elif d.format == "lspet":
        data = readers.read_lspet(source)
    else:
        data = readers.read_mpii(source, images)
    if data.keypoint_set.name != get_keypoint_set(kset).name and d.format == "coco":
        raise ConfigError(f"config key 'data.keypoint_set': '{kset}' but {source} holds "
                          f"'{data.keypoint_set.name}' keypoints")
    if d.image_ids:
        wanted = {int(i) for i in d.image_ids}
        kept = [r for r in data.records if r.image_id in wanted]
        missing = sorted(wanted - {r.image_id for r in kept})
        if missing:
            raise ConfigError(f"config key 'data.image_ids': {source} has no image with id "
                              f"{', '.join(map(str, missing[:10]))}")
        data = replace(data, records=kept)
    limit = d.max_train_samples if split == "train" else d.max_val_samples
    if limit > 0:
        data = replace(data, records=data.records[:limit])
    if len(data) == 0:
        raise DataError(f"{source}: no images in the {split} split")
    return data


# ------------------------------------------------------------------------------------- estimator
def build_estimator(cfg: ExperimentConfig) -> Estimator:
    params = dict(cfg.codec.params)
    if cfg.codec.name:
        params["name"] = cfg.codec.name
    if cfg.paradigm == "topdown":
        from posekit.estimators.topdown import build_topdown_estimator as build
    else:
        from posekit.estimators.bottomup import build_bottomup_estimator as build
    try:
        return build(cfg.model.name, cfg.data.keypoint_set, tuple(cfg.data.input_size),
                     params if cfg.codec.params else None, cfg.model.params)
    except TypeError as exc:  # model.params and codec.params are free-form: name the key, not a traceback
        raise ConfigError(_params_error(cfg, str(exc))) from None


def _params_error(cfg: ExperimentConfig, message: str) -> str:
    import re
    match = re.search(r"unexpected keyword argument '(\w+)'", message)
    if match is None:
        return f"config keys 'model.params' / 'codec.params': {message}"
    key = match.group(1)
    section = "model.params" if key in cfg.model.params else "codec.params" if key in cfg.codec.params else "params"
    return f"config key '{section}.{key}': not a parameter of {cfg.model.name}'s {section.split('.')[0]} ({message})"


def load_pretrained(estimator: Estimator, path: str) -> str:
    """Initialise one network from `path`: a posekit checkpoint's deliverable weights or a model file
    (the whole network, strictly), else backbone-only weights in a layout users have (torchvision/timm
    ResNet, mmdet/mmpose CSPNeXt, HRNet ImageNet; models.pretrained). Returns a one-line report."""
    from posekit.models.pretrained import load_backbone
    from posekit.models.safe_load import load_runner_checkpoint
    state = load_runner_checkpoint(path, "pretrained weights")  # weights only; errors name the file
    if isinstance(state, dict) and "posekit_model" in state:  # a model file (inference.model_file)
        state = {k: v.float() if v.is_floating_point() else v for k, v in state["weights"].items()}
    elif isinstance(state, dict) and isinstance(state.get("estimator"), dict):
        state = state["estimator"]
    else:
        return load_backbone(estimator.model, path).summary()
    if not isinstance(state, dict) or not any(k.startswith("model.") for k in state):
        raise ValueError(f"{path}: not a posekit checkpoint (no model weights)")
    try:
        estimator.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit this model: {str(exc).splitlines()[0]}") from None
    return f"{path}: the whole network ({len(state)} tensors)"


def initialise_networks(cfg: ExperimentConfig, networks: dict[str, Estimator]) -> list[str]:
    """`model.pretrained` for every network of the strategy (SSPCM's teachers and student, PoseDual's
    two networks, the distillation student), `model.network_pretrained[name]` instead where given."""
    unknown = sorted(set(cfg.model.network_pretrained) - set(networks))
    if unknown:
        raise ConfigError(f"config key 'model.network_pretrained.{unknown[0]}': strategy '{cfg.strategy}' has "
                          f"networks {', '.join(networks)}")
    reports = []
    for name, estimator in networks.items():
        path = cfg.model.network_pretrained.get(name, cfg.model.pretrained)
        if path:
            reports.append(f"{name}: {load_pretrained(estimator, path)}")
    return reports


# -------------------------------------------------------------------------------------- datasets
def build_dataset(cfg: ExperimentConfig, data: PoseData, codec: Any, train: bool) -> torch.utils.data.Dataset:
    from posekit.data.datasets import BottomUpDataset, TopDownDataset
    augment = cfg.data.augment if train else None
    if cfg.paradigm == "topdown":
        dataset = TopDownDataset(data, cfg.data.input_size, codec, augment=augment, train=train, seed=cfg.train.seed)
    else:
        dataset = BottomUpDataset(data, cfg.data.input_size[0], codec, augment=augment, train=train,
                                  seed=cfg.train.seed)
    if train and cfg.data.final_augment is not None:
        dataset.augment_stages = [(0, cfg.data.augment),
                                  (max(0, cfg.train.epochs - cfg.data.final_augment_epochs), cfg.data.final_augment)]
    return dataset


def val_loader(cfg: ExperimentConfig, dataset: torch.utils.data.Dataset) -> DataLoader:
    return DataLoader(dataset, batch_size=cfg.data.val_batch_size if cfg.paradigm == "topdown" else 1,
                      shuffle=False, num_workers=cfg.data.workers)


# ------------------------------------------------------------------------------------ evaluation
def build_evaluator(data: PoseData) -> Any:
    """PCK@0.2 for sets without OKS sigmas (LSP), OKS AP (COCO, CrowdPose, whole-body) otherwise."""
    from posekit.evaluation.coco import CocoEvaluator
    from posekit.evaluation.pck import PCKEvaluator
    if data.keypoint_set.sigmas is None:
        return PCKEvaluator(data, data.keypoint_set, alpha=0.2, name=data.source or "validation set")
    return CocoEvaluator(to_coco_dict(data), data.keypoint_set)


class Predictions(list):
    """Predictions of a whole split, and how many samples were skipped because their image could not
    be read (evaluation never credits one image's predictions to another)."""
    skipped: int = 0


def predict_all(estimator: Estimator, loader: DataLoader, flip_test: bool, device: torch.device,
                progress: bool = True) -> Predictions:
    predictions = Predictions()
    estimator.eval()
    # No bar into logs (stderr not a terminal): its carriage returns would fill them.
    for batch in tqdm(loader, desc="predict", leave=False, disable=not progress or not sys.stderr.isatty()):
        skipped = [bool(s) for s in batch.pop("skipped", [])] or [False] * len(batch["image"])
        batch["image"] = batch["image"].to(device)
        for per_image, skip in zip(estimator.predict(batch, flip_test=flip_test), skipped):
            if skip:
                predictions.skipped += 1
            else:
                predictions.extend(per_image)
    return predictions


def make_evaluate_fn(loader: DataLoader, evaluator: Any, device: torch.device,
                     keep: list | None = None) -> Callable[[Estimator, bool], dict[str, float]]:
    def evaluate(estimator: Estimator, flip_test: bool) -> dict[str, float]:
        predictions = predict_all(estimator, loader, flip_test, device)
        if keep is not None:
            keep[:] = predictions
        metrics = evaluator.evaluate(predictions)
        if predictions.skipped:
            metrics["skipped_images"] = float(predictions.skipped)
        return metrics
    return evaluate


# ------------------------------------------------------------------------------------- strategy
def build_supervised(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> Any:
    from posekit.training.strategies import SupervisedStrategy
    if cfg.strategy_params:
        raise ConfigError(f"config key 'strategy_params': the supervised strategy takes none, got {sorted(cfg.strategy_params)}")
    return SupervisedStrategy(estimator_factory())


def build_strategy(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> Any:
    if cfg.strategy not in STRATEGIES:
        raise ConfigError(f"config key 'strategy': unknown strategy '{cfg.strategy}'; known: {', '.join(STRATEGIES)}")
    module, name = STRATEGIES[cfg.strategy].split(":")
    return getattr(importlib.import_module(module), name)(cfg, estimator_factory)


# ---------------------------------------------------------------------------------------- train
def train_sampler(cfg: ExperimentConfig, strategy: Any, train_set: torch.utils.data.Dataset) -> Any:
    """A permutation per epoch; `train.epoch_iters` batches drawn with replacement where set; for
    semi-supervised strategies (epoch_batches) as many labeled samples, drawn with replacement, as one
    pass over the unlabeled pool takes when that pool is the larger."""
    from posekit.training import distributed
    sampler = distributed.make_sampler(train_set, cfg.train.seed, shuffle=True, drop_last=True)
    if len(sampler) < cfg.data.batch_size:
        sampler = distributed.make_sampler(train_set, cfg.train.seed, shuffle=True, drop_last=False)
    if cfg.train.epoch_iters > 0:
        return distributed.ResampledSampler(train_set, cfg.train.epoch_iters * cfg.data.batch_size, cfg.train.seed)
    epoch_batches = getattr(strategy, "epoch_batches", None)
    if epoch_batches is not None and epoch_batches() * cfg.data.batch_size > len(sampler):
        sampler = distributed.ResampledSampler(train_set, epoch_batches() * cfg.data.batch_size, cfg.train.seed)
    return sampler


def train(cfg: ExperimentConfig, resume: bool | str = "auto", device: str | None = None,
          progress: bool = True) -> dict[str, Any]:
    from posekit.training import distributed
    from posekit.training.engine import Trainer, seed_everything

    # Join torchrun's process group (if any) before building the sampler, which shards by rank.
    info = distributed.init_from_env()
    device = device or str(info.device)
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    out_dir = Path(cfg.out_dir)
    estimator_factory = lambda: build_estimator(cfg)  # noqa: E731 - strategies may need several networks
    strategy = build_strategy(cfg, estimator_factory)
    estimator = next(iter(strategy.evaluation_targets().values()))
    for line in initialise_networks(cfg, dict(strategy.evaluation_targets())):
        if distributed.is_main():
            print(f"initialised {line}", file=sys.stderr)
    train_data = load_split(cfg, "train")
    train_set = build_dataset(cfg, train_data, estimator.codec, train=True)
    sampler = train_sampler(cfg, strategy, train_set)
    generator = torch.Generator().manual_seed(cfg.train.seed)
    loader = DataLoader(train_set, batch_size=cfg.data.batch_size, sampler=sampler, num_workers=cfg.data.workers,
                        drop_last=len(train_set) >= cfg.data.batch_size, generator=generator)
    evaluate = None
    if cfg.data.val and cfg.train.val_interval > 0:
        val_data = load_split(cfg, "val")
        val_set = build_dataset(cfg, val_data, estimator.codec, train=False)
        evaluate = make_evaluate_fn(val_loader(cfg, val_set), build_evaluator(val_data),
                                    torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")))
    if distributed.is_main():
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    trainer = Trainer(cfg.train, strategy, loader, out_dir, evaluate=evaluate, train_sampler=sampler,
                      resume=resume, device=device, metadata={"experiment": to_dict(cfg)})
    return trainer.fit()


# ------------------------------------------------------------------------------------ checkpoints
def load_experiment(checkpoint: str | Path, config: str | Path | None = None,
                    overrides: list[str] | None = None, network: str | None = None
                    ) -> tuple[ExperimentConfig, Estimator]:
    """The estimator saved in a posekit checkpoint, with the experiment config it was trained with.

    `network`: another network of a multi-network run (SSPCM's teacher1/teacher2/student, PoseDual's
    net1/net2, distillation's teacher) instead of the deliverable; it is built from the zoo name the
    strategy gave it (strategy_params teachers/student/networks), else model.name."""
    from posekit.config import load_config
    from posekit.training.checkpoint import load_checkpoint
    path = Path(checkpoint)
    state = load_checkpoint(path)
    if not isinstance(state, dict) or "estimator" not in state:
        raise ValueError(f"{path}: not a posekit checkpoint (no 'estimator' weights)")
    if config:
        cfg = load_config(config, overrides)
    elif "experiment" in state.get("metadata", {}):
        from posekit.config import apply_overrides
        cfg = from_dict(ExperimentConfig, apply_overrides(state["metadata"]["experiment"], list(overrides or [])))
    else:
        raise ValueError(f"{path}: the checkpoint carries no experiment config; pass --config")
    weights = state["estimator"]
    if network and network != state.get("estimator_name"):
        prefix = f"{network}."
        weights = {k[len(prefix):]: v for k, v in state.get("strategy", {}).items() if k.startswith(prefix)}
        if not weights:
            names = sorted({k.split(".")[0] for k in state.get("strategy", {}) if not k.split(".")[0].endswith("_last")
                            and "." in k})
            raise ValueError(f"{path}: no network '{network}'; it holds {', '.join(names) or 'only the deliverable'}")
        model_name = _network_model_name(cfg, network)
        if model_name != cfg.model.name:
            cfg = replace(cfg, model=replace(cfg.model, name=model_name, params={}))
    estimator = build_estimator(cfg)
    try:
        estimator.load_state_dict(weights)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit model '{cfg.model.name}': {str(exc).splitlines()[0]}") from None
    return cfg, estimator


def _network_model_name(cfg: ExperimentConfig, network: str) -> str:
    """The zoo name a strategy gave one of its networks (as its builder reads strategy_params)."""
    params = cfg.strategy_params or {}
    slots = {"teacher1": ("teachers", 0), "teacher2": ("teachers", 1), "net1": ("networks", 0),
             "net2": ("networks", 1)}
    if network in slots:
        key, index = slots[network]
        names = params.get(key) or []
        return str(names[index]) if len(names) > index else cfg.model.name
    if network == "student" and params.get("student"):
        return str(params["student"])
    teacher = params.get("teacher")
    if network == "teacher" and isinstance(teacher, dict) and teacher.get("model"):
        return str(teacher["model"])
    return cfg.model.name


def write_results(predictions: list[dict[str, Any]], path: str | Path, category_id: int = 1) -> None:
    """COCO results JSON (the interchange format for predictions); a prediction's `file_name`, when it
    has one (posekit predict), is kept beside its image id so rows are read without a map."""
    rows = [{"image_id": int(p["image_id"]), **({"file_name": p["file_name"]} if "file_name" in p else {}),
             "category_id": category_id,
             "keypoints": np.asarray(p["keypoints"], dtype=float).reshape(-1).round(3).tolist(),
             "score": round(float(p["score"]), 5)} for p in predictions]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
