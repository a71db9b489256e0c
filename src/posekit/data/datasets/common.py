"""What every posekit dataset shares: per-sample seeding, image loading that survives a bad file,
ImageNet normalisation."""
from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.data.io import load_image
from posekit.data.records import DataError
from posekit.data.transforms.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SeededDataset", "as_tensors", "normalize_image"]


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float32 (3, H, W) normalised by ImageNet mean/std (preprocess.normalize)."""
    return torch.from_numpy(normalize(image))


def as_tensors(arrays: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Each numpy array as a tensor of the same dtype (made contiguous first: from_numpy needs it)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


class SeededDataset(Dataset):
    """Base for posekit datasets.

    Sample `index` in epoch `e` draws all its randomness from np.random.default_rng((seed, e, index)),
    so samples do not depend on the number of DataLoader workers or the order they are fetched in.
    Call set_epoch(e) before each epoch (with persistent_workers=False, the default, each epoch's
    workers receive a fresh copy of the dataset and so see the new epoch).

    A training sample whose image cannot be read is replaced by the next readable sample (index + 1,
    + 2, ...), with a warning naming the file and the running count of failures; if no image can be
    read, DataError. An evaluation sample (train=False) is never replaced: that would credit one
    image's predictions to another. It is made from a blank image of the record's size and marked
    "skipped": True, so that prediction drops it and counts it. Every sample carries "skipped".
    Subclasses implement `_file(index)` (the sample's image path), `_image_size(index)` ((width,
    height) from the annotations) and `_sample(index, rng)`, which reads its image with `_load_image`.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.epoch = 0
        self.num_failed = 0
        self._bad_files: set[str] = set()
        self._blank_files: set[str] = set()

    def set_epoch(self, epoch: int) -> None:
        """Reseed for `epoch` and pick the augmentation stage (`augment_stages`) it falls in."""
        self.epoch = int(epoch)
        if not hasattr(self, "_first_epoch"):  # set before workers copy the dataset, so they inherit it
            self._first_epoch = self.epoch
        stages = getattr(self, "augment_stages", None)
        if stages:  # [(first_epoch, AugmentConfig), ...]: the last stage begun by this epoch applies
            self.augment = [aug for start, aug in sorted(stages, key=lambda s: s[0]) if start <= epoch][-1]

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample `index` in the current epoch, seeded by (seed, epoch, index)."""
        return np.random.default_rng((self.seed, self.epoch, int(index)))

    def _file(self, index: int) -> str:
        raise NotImplementedError

    def _image_size(self, index: int) -> tuple[int, int]:
        raise NotImplementedError

    def _sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def _load_image(self, index: int) -> np.ndarray:
        """The sample's RGB image; blank (of the annotated size) for an evaluation file that failed."""
        path = self._file(index)
        if path in self._blank_files:
            width, height = self._image_size(index)
            return np.zeros((max(1, int(height)), max(1, int(width)), 3), np.uint8)
        return load_image(path)

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample index {index} out of range for {n} samples")
        index %= n
        if not getattr(self, "train", True):
            return self._evaluation_sample(index)
        for attempt in range(n):
            candidate = (index + attempt) % n
            path = self._file(candidate)
            if path in self._bad_files:
                continue
            try:
                return {**self._sample(candidate, self.rng(candidate)), "skipped": False, "replaced": attempt > 0}
            except DataError as exc:
                self._bad_files.add(path)
                self.num_failed += 1
                # Named once, in the run's first epoch (each worker re-reads its files every epoch); the
                # training loop then counts replaced samples per epoch in one summary line.
                if self.epoch == getattr(self, "_first_epoch", self.epoch):
                    print(f"posekit: warning: {exc}; sample {index} is replaced by the next readable one "
                          f"({self.num_failed} image(s) failed to load so far)", file=sys.stderr, flush=True)
        example = sorted(self._bad_files)[0] if self._bad_files else "?"
        raise DataError(f"none of the {n} samples could be loaded ({len(self._bad_files)} unreadable "
                        f"image(s), e.g. {example})")

    def _evaluation_sample(self, index: int) -> dict[str, Any]:
        if self._file(index) in self._blank_files:  # another person of an image that already failed
            return {**self._sample(index, self.rng(index)), "skipped": True, "replaced": False}
        try:
            return {**self._sample(index, self.rng(index)), "skipped": False, "replaced": False}
        except DataError as exc:
            self._blank_files.add(self._file(index))
            self.num_failed += 1
            print(f"posekit: warning: {exc}; evaluation skips this sample (no prediction is credited to it; "
                  "the count is printed with the metric)", file=sys.stderr, flush=True)
            return {**self._sample(index, self.rng(index)), "skipped": True, "replaced": False}
