"""What every posekit dataset shares: per-sample seeding, image loading that survives a bad file,
ImageNet normalisation."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.data.records import DataError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0
_MEAN_CHW = IMAGENET_MEAN[:, None, None]
_INV_STD_CHW = (1.0 / IMAGENET_STD)[:, None, None]


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float32 (3, H, W) normalised by ImageNet mean/std."""
    # Transposing the uint8 image before the float maths is ~8x faster than the other way round.
    out = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32)
    out -= _MEAN_CHW
    out *= _INV_STD_CHW
    return torch.from_numpy(out)


def as_tensors(arrays: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


class SeededDataset(Dataset):
    """Base for posekit datasets.

    Sample `index` in epoch `e` draws all its randomness from np.random.default_rng((seed, e, index)),
    so samples do not depend on the number of DataLoader workers or the order they are fetched in.
    Call set_epoch(e) before each epoch (with persistent_workers=False, the default, each epoch's
    workers receive a fresh copy of the dataset and so see the new epoch).

    A sample whose image cannot be read is replaced by the next readable sample (index + 1, + 2, ...),
    with a warning naming the file and the running count of failures; if no image can be read,
    DataError. Subclasses implement `_file(index)` (the sample's image path) and `_sample(index, rng)`.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.epoch = 0
        self.num_failed = 0
        self._bad_files: set[str] = set()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        stages = getattr(self, "augment_stages", None)
        if stages:  # [(first_epoch, AugmentConfig), ...]: the last stage begun by this epoch applies
            self.augment = [aug for start, aug in sorted(stages, key=lambda s: s[0]) if start <= epoch][-1]

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, self.epoch, int(index)))

    def _file(self, index: int) -> str:
        raise NotImplementedError

    def _sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample index {index} out of range for {n} samples")
        index %= n
        for attempt in range(n):
            candidate = (index + attempt) % n
            path = self._file(candidate)
            if path in self._bad_files:
                continue
            try:
                return self._sample(candidate, self.rng(candidate))
            except DataError as exc:
                self._bad_files.add(path)
                self.num_failed += 1
                warnings.warn(f"{exc}; sample {index} is replaced by another "
                              f"({self.num_failed} image(s) failed to load so far)", stacklevel=2)
        example = sorted(self._bad_files)[0] if self._bad_files else "?"
        raise DataError(f"none of the {n} samples could be loaded ({len(self._bad_files)} unreadable "
                        f"image(s), e.g. {example})")
