"""Unlabeled dataset for semi-supervised training: an easy and a hard view of each person/image."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from posekit.config import AugmentConfig
from posekit.data.datasets.common import SeededDataset, normalize_image
from posekit.data.datasets.topdown import clip_bbox
from posekit.data.io import load_image
from posekit.data.records import DataError, PoseData
from posekit.data.transforms import (
    BBOX_PADDING, Preprocess, apply_affine, compose_affine, flip_keypoints, get_warp_matrix, hflip_matrix, photometric,
    random_scale_rotation,
)


@dataclass
class _Item:
    file_name: str
    image_id: int
    bbox: np.ndarray | None  # xywh, or None for the whole image
    keypoints: np.ndarray | None = None  # (K, 3) labels, kept only to score pseudo-labels


class UnlabeledDataset(SeededDataset):
    """Images without labels, one sample per person box of a PoseData (LSPET-style single-person
    images: its box; no person: the whole image) or per image path (the whole image).

    `image_easy`: the crop under the standard augmentation (flip, scale, rotation from `augment`).
    `image_hard`: the easy view further warped by a random affine around the input centre, PoseDual's
    hard-view jitter (scale clip(N(1, hard_scale_sd), hard_scale_range), rotation
    clip(N(0, hard_rotation_sd), +-hard_rotation_max) applied with hard_prob; the scale always), then the
    photometric options of `augment` (HSV, blur, CoarseDropout). The hard view is the easy crop warped
    by `affine`, zeros outside it, as in the released code.
    `affine`: (2, 3) float32 mapping easy-view input pixels to hard-view input pixels.
    `keypoints_easy` (PoseData sources only): (K, 3) float32, the source's labels (x, y, visible) in
    easy-view input pixels, left/right swapped when flipped; zeros where a person has none. No loss
    reads them: they exist so a benchmark can score the pseudo-labels (semi_common.PseudoLabelScore).
    """

    def __init__(self, source: PoseData | Sequence[str | Path], input_size: Sequence[int],
                 augment: AugmentConfig | None = None, seed: int = 0, hard_scale_sd: float = 0.25,
                 hard_scale_range: tuple[float, float] = (0.75, 1.25), hard_rotation_sd: float = 30.0,
                 hard_rotation_max: float = 60.0, hard_prob: float = 0.8) -> None:
        super().__init__(seed)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.augment = augment
        self.hard_scale_sd, self.hard_scale_range = hard_scale_sd, hard_scale_range
        self.hard_rotation_sd, self.hard_rotation_max, self.hard_prob = hard_rotation_sd, hard_rotation_max, hard_prob
        self.flip_index: np.ndarray | None = None
        self.keypoint_set = source.keypoint_set if isinstance(source, PoseData) else None
        if isinstance(source, PoseData):
            name = source.source or "unlabeled dataset"
            self.items = self._items_from_data(source)
            self.flip_index = np.asarray(source.keypoint_set.flip_index)
            self.num_keypoints = source.keypoint_set.num_keypoints
        else:
            name = "unlabeled image list"
            self.items = [_Item(str(p), i, None) for i, p in enumerate(source)]
        if not self.items:
            raise DataError(f"{name}: no images")

    @staticmethod
    def _items_from_data(data: PoseData) -> list[_Item]:
        items = []
        for record in data.records:
            persons = [(clip_bbox(p.bbox, record.width, record.height), p.keypoints) for p in record.persons
                       if not p.iscrowd]
            persons = [(b, k) for b, k in persons if b is not None]
            items.extend(_Item(record.file_name, record.image_id, b, k) for b, k in persons or [(None, None)])
        return items

    def __len__(self) -> int:
        return len(self.items)

    def _file(self, index: int) -> str:
        return self.items[index].file_name

    def _hard_affine(self, rng: np.random.Generator) -> np.ndarray:
        w, h = self.input_size
        low, high = self.hard_scale_range
        factor = float(np.clip(rng.normal(1.0, self.hard_scale_sd), low, high))
        angle = float(np.clip(rng.normal(0.0, self.hard_rotation_sd), -self.hard_rotation_max, self.hard_rotation_max))
        if rng.random() >= self.hard_prob:  # the released code always scales, and rotates with p 0.8
            angle = 0.0
        # A region 1/factor the input's size around its centre, mapped onto the whole input.
        return get_warp_matrix((w * 0.5, h * 0.5), (w / factor, h / factor), angle, self.input_size)

    def _sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        item = self.items[index]
        image = load_image(item.file_name)
        height, width = image.shape[:2]
        aug = self.augment
        if item.bbox is None:  # the whole image, unpadded
            center, scale = Preprocess(self.input_size, 1.0).center_scale((0, 0, width, height))
        else:  # the top-down crop of the box, as labelled data and inference make it
            padding = aug.bbox_padding if aug is not None else BBOX_PADDING
            center, scale = Preprocess(self.input_size, padding).center_scale(item.bbox)
        pre_flip = np.eye(2, 3)
        angle = 0.0
        if aug is not None:
            if rng.random() < aug.flip:
                center[0] = width - 1 - center[0]
                pre_flip = hflip_matrix(width)
            factor, angle = random_scale_rotation(rng, aug.scale, aug.rotation, aug.rotation_prob, aug.jitter)
            scale = scale * factor
        crop_warp = get_warp_matrix(center, scale, angle, self.input_size)  # from the (flipped) image
        easy_warp = compose_affine(crop_warp, pre_flip)
        affine = self._hard_affine(rng)
        easy = cv2.warpAffine(image, easy_warp, self.input_size, flags=cv2.INTER_LINEAR)
        # The hard view warps the easy crop, zeros outside it (as the warped targets are zero there),
        # not the original image, which would show real context where the target has nothing.
        hard = cv2.warpAffine(easy, affine, self.input_size, flags=cv2.INTER_LINEAR)
        if aug is not None:
            hard = photometric(hard, rng, aug.hsv, aug.blur, aug.coarse_dropout)
        sample = {
            "image_easy": normalize_image(easy),
            "image_hard": normalize_image(hard),
            "affine": torch.from_numpy(affine.astype(np.float32)),
            "image_id": int(item.image_id),
        }
        if self.flip_index is not None:
            sample["keypoints_easy"] = torch.from_numpy(self._easy_keypoints(item, crop_warp, pre_flip, width))
        return sample

    def _easy_keypoints(self, item: _Item, crop_warp: np.ndarray, pre_flip: np.ndarray, width: int) -> np.ndarray:
        out = np.zeros((self.num_keypoints, 3), dtype=np.float32)
        if item.keypoints is None:
            return out
        xy, visible = item.keypoints[:, :2], item.keypoints[:, 2] > 0
        if pre_flip[0, 0] < 0:  # flipped: the network's left knee is the original right knee
            xy, visible = flip_keypoints(xy, visible, width, self.flip_index)
        out[:, :2] = apply_affine(xy, crop_warp)
        out[:, 2] = visible
        return out
