"""Build everything an experiment needs from its typed config: data, estimator, loaders,
evaluator, strategy, trainer. The CLI verbs `train`, `eval` and `demo` are thin layers over this."""
from __future__ import annotations

import copy
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from posekit.config import ConfigError, ExperimentConfig, from_dict, to_dict
from posekit.data.convert import to_coco_dict
from posekit.data.records import DataError, PoseData
from posekit.estimators.base import Estimator
from posekit.keypoints import get_keypoint_set


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
        data = readers.read_mpii(source, images, allow_absolute_paths=d.allow_absolute_paths)
    # lsp/lspet/mpii files always hold their own set (lsp14, mpii16): a model built for another
    # would fail mid-training, or with the same count (crowdpose14) train under the wrong names.
    if data.keypoint_set.name != get_keypoint_set(kset).name:
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
    """The estimator of the config's model, codec and loss (`estimators.build.build_estimator`)."""
    from posekit.estimators.build import build_estimator as build
    return build(cfg.model.name, cfg.data.keypoint_set, tuple(cfg.data.input_size), cfg.codec.name,
                 cfg.codec.params, cfg.model.params, cfg.loss.name, cfg.loss.params, paradigm=cfg.paradigm)


def resolve_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """`cfg` with what its estimator is built from checked before any work (paradigm against the
    zoo's, model/codec/loss params against what they go to) and `paradigm` filled in from the zoo."""
    from posekit.estimators.build import check_estimator
    entry = check_estimator(cfg.model.name, cfg.paradigm, cfg.codec.name, cfg.codec.params, cfg.model.params,
                            cfg.loss.name, cfg.loss.params)
    return replace(cfg, paradigm=entry.paradigm)


def stored_config(experiment: dict[str, Any], overrides: list[str] | None = None) -> ExperimentConfig:
    """The experiment config a checkpoint stores, with overrides. Compatibility: configs stored
    before `codec.name` could be empty carry the old default {name: heatmap, params: {}} whatever
    the model's codec (a codec name without params was ignored then), so that pair means the zoo's
    codec, RTMPose's SimCC included."""
    from posekit.config import apply_overrides
    data = copy.deepcopy(experiment)
    if data.get("codec") == {"name": "heatmap", "params": {}}:
        data["codec"] = {"name": None, "params": {}}
    return from_dict(ExperimentConfig, apply_overrides(data, list(overrides or [])))


def set_preprocess(estimator: Estimator, cfg: ExperimentConfig) -> Estimator:
    """Give an estimator the preprocessing its config trains and validates with (input size, box
    padding), so that a Predictor over it feeds the network what `posekit eval` does."""
    from posekit.data.transforms.preprocess import Preprocess
    estimator.preprocess = Preprocess(tuple(cfg.data.input_size), cfg.data.augment.bbox_padding)
    return estimator


def load_pretrained(estimator: Estimator, path: str) -> str:
    """Initialise one network from `path`: a posekit checkpoint's deliverable weights or a model file
    (the whole network, strictly), else backbone-only weights in a layout users have (torchvision/timm
    ResNet, mmdet/mmpose CSPNeXt, HRNet ImageNet; models.pretrained). Returns a one-line report."""
    from posekit.models.pretrained import load_backbone
    from posekit.models.safe_load import load_runner_checkpoint
    from posekit.training.checkpoint import network_weights
    state = network_weights(load_runner_checkpoint(path, "pretrained weights"))  # weights only; errors name the file
    if state is None:  # neither a posekit checkpoint nor a model file
        return load_backbone(estimator.model, path).summary()
    if not any(k.startswith("model.") for k in state):
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
    """A TopDownDataset (one sample per person) or BottomUpDataset (one per image) for the paradigm.

    Training sets switch to `data.final_augment` for the last `final_augment_epochs` epochs.
    """
    from posekit.data.datasets import BottomUpDataset, TopDownDataset
    # Validation datasets take only augment.bbox_padding from it: the crop that set_preprocess gives predictors.
    augment = cfg.data.augment
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
    """An unshuffled loader; batch size 1 for bottom-up, whose images differ in size."""
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
    """Run the estimator (in eval mode) over the loader: one flat list of per-person prediction dicts
    (image_id, keypoints (K, 3) in original-image pixels, score), with the unreadable images counted."""
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
    """The trainer's validation hook: evaluate(estimator, flip_test) -> metrics.

    `keep`, if given, is refilled in place with the latest predictions; `skipped_images` is added to the
    metrics when some image could not be read.
    """
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
def build_strategy(cfg: ExperimentConfig, estimator_factory: Callable[[], Estimator]) -> Any:
    """The strategy registered under `cfg.strategy` (training.strategies.register_strategy)."""
    from posekit.training.strategies import build_strategy as build_registered
    return build_registered(cfg, estimator_factory)


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
    """Train the experiment, writing config.yaml and checkpoints under `cfg.out_dir`.

    `resume`: "auto" continues from OUT_DIR/last.pt when it exists, False starts afresh. `device`: None
    takes torchrun's rank device (else cuda when available). Returns the trainer's summary: epochs,
    iterations, metric, best_metric, best_epoch (0-based), final (the last metrics).
    """
    from posekit.training import distributed
    from posekit.training.engine import Trainer, seed_everything

    # Join torchrun's process group (if any) before building the sampler, which shards by rank.
    info = distributed.init_from_env()
    device = device or str(info.device)
    cfg = resolve_config(cfg)  # estimator config errors before any work; the paradigm stored as the zoo's
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    out_dir = Path(cfg.out_dir)
    # A factory: strategies may need several networks.
    estimator_factory = lambda: set_preprocess(build_estimator(cfg), cfg)  # noqa: E731
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
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"config key 'out_dir': cannot create the folder {out_dir} "
                              f"({exc.strerror or exc})") from None
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
    net1/net2, distillation's teacher) instead of the deliverable; it is built from the zoo model
    (name, params) the checkpoint records for it (metadata 'networks', written by the engine)."""
    from posekit.config import load_config
    from posekit.training.checkpoint import load_checkpoint
    path = Path(checkpoint)
    state = load_checkpoint(path)
    if not isinstance(state, dict) or "estimator" not in state:
        raise ValueError(f"{path}: not a posekit checkpoint (no 'estimator' weights)")
    if config:
        cfg = load_config(config, overrides)
    elif "experiment" in state.get("metadata", {}):
        cfg = stored_config(state["metadata"]["experiment"], overrides)
    else:
        raise ValueError(f"{path}: the checkpoint carries no experiment config; pass --config")
    deliverable = state.get("estimator_name")
    other = bool(network) and network != deliverable
    weights = _network_weights(path, state, network) if other else state["estimator"]
    name, params = _network_model(cfg, state, network if other else deliverable)
    if (name, params) != (cfg.model.name, dict(cfg.model.params)):
        cfg = replace(cfg, model=replace(cfg.model, name=name, params=params))
    cfg = resolve_config(cfg)  # callers read cfg.paradigm
    estimator = set_preprocess(build_estimator(cfg), cfg)
    try:
        estimator.load_state_dict(weights)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit model '{cfg.model.name}': {str(exc).splitlines()[0]}") from None
    return cfg, estimator


def _network_weights(path: Path, state: dict[str, Any], network: str) -> dict[str, torch.Tensor]:
    """One network's weights out of the strategy state: the `network.*` entries."""
    from posekit.training.checkpoint import recorded_networks
    recorded = recorded_networks(state)
    prefix = f"{network}."
    weights = {k[len(prefix):]: v for k, v in state.get("strategy", {}).items() if k.startswith(prefix)}
    if not weights or (recorded and network not in recorded):
        names = sorted(recorded) or sorted({k.split(".")[0] for k in state.get("strategy", {})
                                            if not k.split(".")[0].endswith("_last") and "." in k})
        raise ValueError(f"{path}: no network '{network}'; it holds {', '.join(names) or 'only the deliverable'}")
    return weights


def _network_model(cfg: ExperimentConfig, state: dict[str, Any], slot: str | None) -> tuple[str, dict]:
    """The zoo model (name, params) the checkpoint records for network `slot`; the config's model for
    the deliverable of a checkpoint without the record."""
    from posekit.training.checkpoint import recorded_networks
    recorded = recorded_networks(state)
    if slot in recorded:
        return recorded[slot]
    if slot is None or slot == state.get("estimator_name"):
        return cfg.model.name, dict(cfg.model.params)
    return _legacy_network_model(cfg, slot)


def _legacy_network_model(cfg: ExperimentConfig, network: str) -> tuple[str, dict]:
    """Compatibility: checkpoints written before the engine recorded each network's zoo model
    (metadata 'networks') name it only in strategy_params, as the built-in strategies' builders
    read them; model.params go with the experiment's own model name only."""
    params = cfg.strategy_params or {}
    slots = {"teacher1": ("teachers", 0), "teacher2": ("teachers", 1), "net1": ("networks", 0),
             "net2": ("networks", 1)}
    name = cfg.model.name
    teacher = params.get("teacher")
    if network in slots:
        key, index = slots[network]
        names = params.get(key) or []
        name = str(names[index]) if len(names) > index else name
    elif network == "student" and params.get("student"):
        name = str(params["student"])
    elif network == "teacher" and isinstance(teacher, dict) and teacher.get("model"):
        name = str(teacher["model"])
    return name, (dict(cfg.model.params) if name == cfg.model.name else {})


def write_results(predictions: list[dict[str, Any]], path: str | Path, category_id: int = 1) -> None:
    """COCO results JSON (the interchange format for predictions); a prediction's `file_name`, when it
    has one (posekit predict), is kept beside its image id so rows are read without a map."""
    from posekit.data.transforms.preprocess import coco_results
    rows = coco_results(predictions, category_id, rounded=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
