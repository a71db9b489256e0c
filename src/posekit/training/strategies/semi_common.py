"""What PoseDual and SSPCM share: typed strategy params, the unlabeled batch stream, building
heatmap networks by zoo name, heatmap peaks, and the hard-view augmentations applied on tensors.

The unlabeled batches do not come through the engine's loader (which yields the labeled ones): the
strategy owns an `UnlabeledStream`, an endless sequence of batches whose order depends only on
(seed, epoch) and whose position within the epoch is part of the strategy's extra state, so a run
resumed mid-epoch sees the same unlabeled batches as an uninterrupted one.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from posekit.config import ConfigError, ExperimentConfig
from posekit.data.cut_occlude import OCCLUDERS
from posekit.data.datasets import IMAGENET_MEAN, IMAGENET_STD, UnlabeledDataset
from posekit.estimators.topdown import TopDownEstimator, build_topdown_estimator
from posekit.training import distributed
from posekit.training.strategies.base import Strategy

OCCLUSIONS = ("joint_cutout", "cut_occlude", "randaug", "none")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


# ------------------------------------------------------------------------------------ params
@dataclass
class UnlabeledSource:
    """`strategy_params.unlabeled`: where the unlabeled images come from and how they are batched."""

    format: str = "images"          # images (a folder) | lspet (its images, labels unused) | coco (a JSON's person boxes)
    path: str = ""                  # the folder, the LSPET root, or the COCO JSON
    images: str = ""                # coco only: the image folder (defaults to the JSON's folder)
    max_samples: int = 0            # 0 = all; quick modes take a handful
    # coco only: persons with at least this many labelled keypoints (the papers' pool: 1; labels are
    # otherwise unused); 0 takes every box, e.g. a detector's boxes from `posekit detect`.
    min_keypoints: int = 1
    batch_size: int = 0             # 0 = data.batch_size (one unlabeled batch per labeled batch)
    workers: int = -1               # -1 = data.workers


@dataclass
class SemiParams:
    """`strategy_params` shared by PoseDual and SSPCM: the unlabeled source, the hard view's affine
    and occlusion, and the consistency weight. Pixel sizes are input pixels."""

    unlabeled: UnlabeledSource = field(default_factory=UnlabeledSource)
    # The hard view's extra affine (drawn per sample by the UnlabeledDataset).
    hard_scale_sd: float = 0.25
    hard_scale_range: tuple[float, float] = (0.75, 1.25)
    hard_rotation_sd: float = 30.0
    hard_rotation_max: float = 60.0
    hard_prob: float = 0.8
    # Then an occlusion or RandAugment on each network's hard input.
    occlusion: str = "joint_cutout"  # joint_cutout | cut_occlude | randaug | none
    occlusion_joints: int = 5       # joints per image (Joint Cutout: 5 with replacement; Cut-Occlude: 2)
    patch_half_size: tuple[int, int] = (10, 20)  # U[low, high) input px, for 256x192 inputs
    jitter_sd: float = 10.0         # input px
    # The released code's occlusion quirks (Joint Cutout's height/width swap, Cut-Occlude's x/y
    # transposition; data.cut_occlude) instead of the papers' description (the default).
    released_occlusion: bool = False
    randaug_n: int = 2
    randaug_m: int = 10                    # magnitude in [0, 30], as the released RandAugment
    unsup_weight: float = 1.0       # weight of the consistency terms (1 in the papers)

    def check(self) -> None:
        """ConfigError naming the key for an unknown occlusion or format, a missing unlabeled path, or
        a patch_half_size that is not 0 < low < high."""
        if self.occlusion not in OCCLUSIONS:
            raise ConfigError(f"config key 'strategy_params.occlusion': '{self.occlusion}' is not one of "
                              f"{', '.join(OCCLUSIONS)}")
        if not self.unlabeled.path:
            raise ConfigError("config key 'strategy_params.unlabeled.path': name the unlabeled images")
        if self.unlabeled.format not in ("images", "lspet", "coco"):
            raise ConfigError(f"config key 'strategy_params.unlabeled.format': '{self.unlabeled.format}' is "
                              "not one of images, lspet, coco")
        low, high = self.patch_half_size
        if not 0 < low < high:
            raise ConfigError("config key 'strategy_params.patch_half_size': want [low, high) with 0 < low < high")


# ---------------------------------------------------------------------------- unlabeled data
def build_unlabeled_dataset(cfg: ExperimentConfig, params: SemiParams) -> UnlabeledDataset:
    """Easy/hard view pairs at the experiment's input size: COCO person boxes (with at least
    min_keypoints labelled), or whole images of a folder / LSPET's images; ConfigError if none."""
    src = params.unlabeled
    limit = src.max_samples if src.max_samples > 0 else None
    if src.format == "coco":
        from posekit.data.readers import read_coco
        source: Any = read_coco(src.path, src.images or None, cfg.data.keypoint_set,
                                allow_absolute_paths=cfg.data.allow_absolute_paths)
        for record in source.records:
            record.persons = [p for p in record.persons if p.num_keypoints >= src.min_keypoints]
        source.records[:] = [r for r in source.records if r.persons]
        if not source.records:
            raise ConfigError(f"config key 'strategy_params.unlabeled.min_keypoints': no person in {src.path} has "
                              f">= {src.min_keypoints} labelled keypoint(s); set 0 for boxes without keypoints")
        if limit:
            source.records[:] = source.records[:limit]
    else:
        folder = Path(src.path) / "images" if src.format == "lspet" else Path(src.path)
        if not folder.is_dir():
            raise ConfigError(f"config key 'strategy_params.unlabeled.path': {folder} is not a folder of images")
        # Whole images only: LSPET's person boxes would come from its labels, which stay unused.
        source = sorted(str(folder / n) for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))[:limit]
        if not source:
            raise ConfigError(f"config key 'strategy_params.unlabeled.path': no images in {folder}")
    return UnlabeledDataset(source, cfg.data.input_size, augment=cfg.data.augment, seed=cfg.train.seed,
                            hard_scale_sd=params.hard_scale_sd, hard_scale_range=tuple(params.hard_scale_range),
                            hard_rotation_sd=params.hard_rotation_sd, hard_rotation_max=params.hard_rotation_max,
                            hard_prob=params.hard_prob)


def _seed(*parts: int) -> int:
    value = 0
    for p in parts:
        value = (value * 1_000_003 + int(p)) % 2**61
    return value


class _EndlessBatches:
    """Batch index lists for one epoch, starting at batch `position`: pass c over the data is a
    permutation seeded by (seed, epoch, c), sharded by rank, cut into full batches."""

    def __init__(self, size: int, batch_size: int, seed: int, epoch: int, position: int):
        self.size, self.batch_size, self.seed, self.epoch, self.position = size, batch_size, seed, epoch, position
        self.rank, self.world = distributed.rank(), distributed.world_size_()

    def _pass(self, c: int) -> list[list[int]]:
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(_seed(self.seed, self.epoch, c)))
        shard = order[self.rank::self.world].tolist()
        shard = shard * math.ceil(self.batch_size / max(1, len(shard)))  # fewer images than a batch: repeat
        return [shard[i:i + self.batch_size] for i in range(0, len(shard) - self.batch_size + 1, self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        per_pass = len(self._pass(0))
        c, offset = divmod(self.position, per_pass)
        while True:
            yield from self._pass(c)[offset:]
            c, offset = c + 1, 0


class UnlabeledStream:
    """Endless unlabeled batches; `start(epoch, position)` rebuilds the epoch's sequence at any point."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, workers: int = 0):
        self.dataset, self.batch_size, self.seed, self.workers = dataset, batch_size, seed, workers
        self.epoch, self.position = -1, 0
        self._iter: Iterator[dict[str, Any]] | None = None

    def start(self, epoch: int, position: int = 0) -> None:
        """Restart the stream at batch `position` of `epoch` (a new loader; the old one's workers end)."""
        self.stop()
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)  # before the workers copy the dataset
        batches = _EndlessBatches(len(self.dataset), self.batch_size, self.seed, epoch, position)
        # Own generator: creating the iterator must not draw from the global RNG the engine restores.
        loader = DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers, collate_fn=default_collate,
                            generator=torch.Generator().manual_seed(_seed(self.seed, epoch, 7)))
        self._iter = iter(loader)
        self.epoch, self.position = epoch, position

    def next(self, epoch: int) -> dict[str, Any]:
        """The next collated unlabeled batch of `epoch` (on CPU); starts the epoch at 0 if not started."""
        if self._iter is None or self.epoch != epoch:
            self.start(epoch, 0)
        batch = next(self._iter)
        self.position += 1
        return batch

    def stop(self) -> None:
        """Drop the current iterator; the next `next` call starts its epoch afresh."""
        self._iter = None  # dropping a multi-process iterator shuts its workers down

    def state(self) -> dict[str, int]:
        """{"epoch", "position"}: the batches taken so far in the epoch, what `start` resumes from."""
        return {"epoch": self.epoch, "position": self.position}


# ----------------------------------------------------------------------------------- networks
def network_model(cfg: ExperimentConfig, model_name: str) -> tuple[str, dict]:
    """The zoo model (name, params) of a network named `model_name`: model.params are for the
    experiment's own model name only."""
    return model_name, (dict(cfg.model.params) if model_name == cfg.model.name else {})


def build_heatmap_estimator(cfg: ExperimentConfig, model_name: str) -> TopDownEstimator:
    """A top-down heatmap estimator for `model_name` with the experiment's keypoints, input size
    and codec (model.params apply to the experiment's own model name only)."""
    codec = dict(cfg.codec.params)
    if cfg.codec.name:
        codec["name"] = cfg.codec.name
    _, params = network_model(cfg, model_name)
    estimator = build_topdown_estimator(model_name, cfg.data.keypoint_set, tuple(cfg.data.input_size),
                                        codec or None, params)
    if not hasattr(estimator.codec, "heatmap_size"):
        raise ConfigError(f"config key 'strategy_params': model '{model_name}' has no heatmap head; semi-supervised "
                          "strategies need heatmap outputs")
    return estimator


def check_same_heatmaps(estimators: Sequence[TopDownEstimator], names: Sequence[str]) -> None:
    """ConfigError unless all the estimators predict heatmaps of one size (each is the other's target)."""
    sizes = {tuple(e.codec.heatmap_size) for e in estimators}
    if len(sizes) != 1:
        raise ConfigError(f"config key 'strategy_params': networks {list(names)} predict heatmaps of different sizes "
                          f"{sorted(sizes)}; they must share one codec")


def heatmap_peaks(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, h, w) -> argmax locations (B, K, 2) as (x, y) heatmap pixels (float), and peak values (B, K)."""
    b, k, _, w = heatmaps.shape
    values, index = heatmaps.reshape(b, k, -1).max(dim=-1)
    xy = torch.stack([index % w, torch.div(index, w, rounding_mode="floor")], dim=-1).to(heatmaps.dtype)
    return xy, values


# --------------------------------------------------------------------------- hard-view ops
def _blend(a: torch.Tensor, b: torch.Tensor, factor: float) -> torch.Tensor:
    return (b + (a - b) * factor).clamp(0, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).expand_as(x)


def _sharp_blur(x: torch.Tensor) -> torch.Tensor:
    kernel = x.new_tensor([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0  # PIL's SMOOTH filter
    out = x.clone()  # PIL leaves the one-pixel border unfiltered
    out[:, 1:-1, 1:-1] = torch.nn.functional.conv2d(x[:, None], kernel[None, None])[:, 0]
    return out


def _autocontrast(x: torch.Tensor) -> torch.Tensor:
    low = x.amin(dim=(1, 2), keepdim=True)
    high = x.amax(dim=(1, 2), keepdim=True)
    return torch.where(high > low, (x - low) / (high - low).clamp_min(1e-6), x)


def _equalize(x: torch.Tensor) -> torch.Tensor:
    """PIL's ImageOps.equalize per channel on a [0, 1] image: the histogram's cumulative LUT, with the
    last occupied bin left out of the step (an image of one value per channel is unchanged)."""
    out = []
    for channel in (x * 255).round().to(torch.int64):
        hist = torch.bincount(channel.flatten(), minlength=256)
        last = int(hist.nonzero().max())
        step = (int(hist.sum()) - int(hist[last])) // 255
        if step == 0:
            out.append(channel)
            continue
        lut = ((torch.cumsum(hist, 0) - hist + step // 2) // step).clamp(0, 255)
        out.append(lut[channel])
    return torch.stack(out).to(x.dtype) / 255


def _solarize(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """PIL's solarize: pixels at or above `threshold` (0..256, in pixel values) are inverted."""
    return torch.where(x * 255 >= threshold, 1.0 - x, x)


def _cutout(x: torch.Tensor, side: float) -> torch.Tensor:
    """CutoutAbs: a `side` px square at a uniform random centre, clipped to the image, grey-filled."""
    _, h, w = x.shape
    if side <= 0:
        return x
    cx, cy = float(torch.rand(())) * w, float(torch.rand(())) * h
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, x0 + side)), int(min(h, y0 + side))
    out = x.clone()
    out[:, y0:y1, x0:x1] = x.new_tensor(RANDAUG_GREY)[:, None, None]
    return out


def _op(x: torch.Tensor, name: str, value: float, sign: float) -> torch.Tensor:
    """One RandAugment op on a [0, 1] image (3, H, W) at its value (already scaled to the op's range)."""
    factor = 1.0 + sign * value  # the enhance ops: 1 +- v, as the released code
    if name == "autocontrast":
        return _autocontrast(x)
    if name == "equalize":
        return _equalize(x)
    if name == "invert":
        return 1.0 - x
    if name == "posterize":  # bits = max(2, 6 - int(v))
        step = 2 ** (8 - max(2, 6 - int(value)))
        return torch.floor(x * 255 / step) * step / 255
    if name == "solarize":  # threshold 256 - v
        return _solarize(x, 256 - value)
    if name == "solarize_add":  # add v, clip, solarize at 128
        return _solarize((x + value / 255).clamp(0, 1), 128)
    if name == "color":
        return _blend(x, _gray(x), factor)
    if name == "contrast":
        return _blend(x, _gray(x).mean().expand_as(x), factor)
    if name == "brightness":
        return _blend(x, torch.zeros_like(x), factor)
    if name == "sharpness":
        return _blend(x, _sharp_blur(x), factor)
    return _cutout(x, value)


# The released PoseDual RandAugment (lib/utils/rand_augment.py, the EfficientNet list): 11 ops and the
# range each op's magnitude m in [0, 30] scales, value = m / 30 * (high - low) + low. All are photometric
# or occluding, so the body stays where its warped targets are.
RANDAUG_OPS = (("autocontrast", 0, 1), ("equalize", 0, 1), ("invert", 0, 1), ("posterize", 0, 4),
               ("solarize", 0, 256), ("solarize_add", 0, 110), ("color", 0, 0.9), ("contrast", 0, 0.9),
               ("brightness", 0, 0.9), ("sharpness", 0, 0.9), ("cutout", 0, 80))
RANDAUG_GREY = (125 / 255, 123 / 255, 114 / 255)  # CutoutAbs's fill


def rand_augment(images: torch.Tensor, n: int = 2, m: int = 10) -> torch.Tensor:
    """RandAugment on a normalised batch: per image, `n` ops drawn with replacement from RANDAUG_OPS,
    each at value m/30 of its range (m = 10 as the released configs: a third of the maximum), the
    enhance ops in a random direction."""
    mean = images.new_tensor(IMAGENET_MEAN / 255.0)[:, None, None]
    std = images.new_tensor(IMAGENET_STD / 255.0)[:, None, None]
    out = []
    level = min(max(m, 0), 30) / 30.0
    for image in images:
        x = (image * std + mean).clamp(0, 1)
        for index in torch.randint(0, len(RANDAUG_OPS), (n,)).tolist():
            name, low, high = RANDAUG_OPS[index]
            sign = 1.0 if float(torch.rand(())) < 0.5 else -1.0
            x = _op(x, name, level * (high - low) + low, sign)
        out.append((x - mean) / std)
    return torch.stack(out)


def hard_input(params: SemiParams, hard: torch.Tensor, partner_peaks_px: torch.Tensor) -> torch.Tensor:
    """A network's hard input: the (already affine-warped) hard view with the configured occlusion,
    placed at the partner's peaks in input pixels."""
    low, high = params.patch_half_size
    if params.occlusion in OCCLUDERS:
        return OCCLUDERS[params.occlusion](hard, partner_peaks_px, params.occlusion_joints, (low, high),
                                           params.jitter_sd, released=params.released_occlusion)
    if params.occlusion == "randaug":
        return rand_augment(hard, params.randaug_n, params.randaug_m)
    return hard


def unlabeled_loader_size(cfg: ExperimentConfig, params: SemiParams) -> tuple[int, int]:
    """(batch size, workers) of the unlabeled stream; the data section's values where unset."""
    batch = params.unlabeled.batch_size or cfg.data.batch_size
    workers = params.unlabeled.workers if params.unlabeled.workers >= 0 else cfg.data.workers
    return batch, workers


# ------------------------------------------------------------------------ pseudo-label accuracy
class PseudoLabelScore:
    """How right the pseudo-labels are, per epoch: PCK@alpha of the torso (right shoulder -> left hip)
    of their peaks against the unlabeled pool's own labels, where the pool has them (a benchmark's
    held-back labels; `keypoints_easy` of the UnlabeledDataset). Scoring only: no loss sees the labels.
    Counts every labelled joint of a person with a labelled torso, and separately the joints a mask
    keeps (SSPCM's score threshold)."""

    def __init__(self, torso: tuple[int, int] | None, alpha: float = 0.2):
        self.torso, self.alpha = torso, alpha
        self.counts: dict[str, float] = {}

    def add(self, name: str, peaks_px: torch.Tensor, unlabeled: dict[str, torch.Tensor],
            kept: torch.Tensor | None = None) -> None:
        """Count one batch of pseudo-labels `name`: peaks_px (B, K, 2) in the easy view's input pixels,
        kept (B, K) bool; a no-op where the batch has no `keypoints_easy` or the set no torso."""
        gt = unlabeled.get("keypoints_easy")
        if gt is None or self.torso is None:
            return
        gt = gt.to(peaks_px.dtype)
        rs, lh = self.torso
        torso = (gt[:, rs, :2] - gt[:, lh, :2]).norm(dim=-1)
        counted = (gt[..., 2] > 0) & ((gt[:, rs, 2] > 0) & (gt[:, lh, 2] > 0) & (torso > 0))[:, None]
        hit = ((peaks_px - gt[..., :2]).norm(dim=-1) <= self.alpha * torso[:, None]) & counted
        self._count(name, float(hit.sum()), float(counted.sum()))
        if kept is not None:
            self._count(f"{name}_kept", float((hit & kept).sum()), float((counted & kept).sum()))

    def _count(self, name: str, correct: float, count: float) -> None:
        self.counts[f"{name}/correct"] = self.counts.get(f"{name}/correct", 0.0) + correct
        self.counts[f"{name}/count"] = self.counts.get(f"{name}/count", 0.0) + count

    def stats(self) -> dict[str, float]:
        """{"pseudo_pck/NAME": accuracy} for every name with a counted joint."""
        names = [k[:-len("/count")] for k in self.counts if k.endswith("/count") and self.counts[k] > 0]
        return {f"pseudo_pck/{n}": self.counts[f"{n}/correct"] / self.counts[f"{n}/count"] for n in names}

    def reset(self) -> None:
        """Forget the counts (at the start of an epoch that is not resumed)."""
        self.counts = {}


def torso_indices(keypoint_set: Any) -> tuple[int, int] | None:
    """(right_shoulder, left_hip) keypoint indices, or None where the set lacks either name."""
    names = list(keypoint_set.names)
    if "right_shoulder" in names and "left_hip" in names:
        return names.index("right_shoulder"), names.index("left_hip")
    return None


# ------------------------------------------------------------------------------- base strategy
class SemiStrategy(Strategy):
    """Labeled batches from the engine, unlabeled ones from the strategy's own stream."""

    def __init__(self, params: SemiParams, stream: UnlabeledStream, stride: Sequence[float]):
        super().__init__()
        self.params, self.stream = params, stream
        self.stride = (float(stride[0]), float(stride[1]))
        self._resume_at: dict[str, int] | None = None
        dataset_set = getattr(stream.dataset, "keypoint_set", None)
        self.pseudo_score = PseudoLabelScore(torso_indices(dataset_set) if dataset_set is not None else None)

    def epoch_batches(self) -> int:
        """Iterations in one epoch: one pass over the unlabeled pool, as the official mixed dataset
        (`__len__ = max(labeled, unlabeled)`); the engine's labeled loader is resampled to match."""
        per_rank = len(self.stream.dataset) // max(1, distributed.world_size_())
        return max(1, per_rank // self.stream.batch_size)

    def on_epoch_start(self, epoch: int) -> None:
        """Start the unlabeled stream at the saved position when resuming this epoch, else at 0 with
        fresh pseudo-label counts."""
        at = self._resume_at
        resumed = at is not None and at["epoch"] == epoch
        self.stream.start(epoch, at["position"] if resumed else 0)
        if not resumed:
            self.pseudo_score.reset()
        self._resume_at = None

    def on_epoch_end(self, epoch: int) -> None:
        """Stop the unlabeled stream, ending its loader workers before validation."""
        self.stream.stop()

    def log_stats(self) -> dict[str, float]:
        """The epoch's pseudo-label accuracies, {"pseudo_pck/NAME": fraction}."""
        return self.pseudo_score.stats()

    def extra_state(self) -> dict[str, Any]:
        """The unlabeled stream's position and the pseudo-label counts, so a mid-epoch resume is exact."""
        return {"unlabeled": self.stream.state(), "pseudo_score": dict(self.pseudo_score.counts)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the counts; the stream position takes effect at the next `on_epoch_start`."""
        self._resume_at = dict(state["unlabeled"])
        self.pseudo_score.counts = dict(state.get("pseudo_score", {}))

    def unlabeled_batch(self, epoch: int, device: torch.device) -> dict[str, torch.Tensor]:
        """The stream's next batch on `device` (image_easy, image_hard, affine, ...); non-tensors dropped."""
        batch = self.stream.next(epoch)
        return {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)}

    def score_pseudo_labels(self, name: str, heatmaps: torch.Tensor, unlabeled: dict[str, torch.Tensor],
                            kept: torch.Tensor | None = None) -> None:
        """Score easy-view heatmaps (B, K, h, w) used as targets against the held-back labels; their
        peaks are found only when the batch carries labels, so training without them pays nothing."""
        if "keypoints_easy" in unlabeled and self.pseudo_score.torso is not None:
            self.pseudo_score.add(name, self.to_input_pixels(heatmap_peaks(heatmaps)[0]), unlabeled, kept)

    def to_input_pixels(self, heatmap_xy: torch.Tensor) -> torch.Tensor:
        """(..., 2) heatmap (x, y) -> input pixels, scaled by the codec's (x, y) stride."""
        return heatmap_xy * heatmap_xy.new_tensor(self.stride)


def quick_overrides(out_dir: str) -> list[str]:
    """KEY=VALUE overrides that turn any semi-supervised config into its quick mode: a ResNet-18 (32-channel deconvs) at
    64x32 input (ResNet strides need multiples of 32), a handful of images, two epochs of two iterations (tests and CI run this)."""
    return [f"out_dir={out_dir}", "model.name=simplebaseline-res18", "model.pretrained=", "model.params={deconv_channels: 32}", "data.input_size=[32, 64]",
            "data.batch_size=2", "data.val_batch_size=4", "data.workers=0", "data.max_train_samples=4",
            "data.max_val_samples=4", "train.epochs=2", "train.max_iters_per_epoch=2", "train.steps=[]",
            "train.warmup_iters=0", "train.log_interval=1", "train.flip_test=false",
            "strategy_params.unlabeled.max_samples=4", "strategy_params.unlabeled.workers=0",
            "strategy_params.patch_half_size=[3, 5]", "strategy_params.jitter_sd=2.5"]
