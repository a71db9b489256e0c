"""Bottom-up dataset: the whole image with every person, plus ignore masks per output resolution."""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
import torch

from posekit.config import AugmentConfig
from posekit.data.datasets.common import SeededDataset, as_tensors, normalize_image
from posekit.data.datasets.masks import ignore_mask
from posekit.data.records import DataError, PoseData
from posekit.data.transforms import (
    Preprocess, apply_affine, compose_affine, flip_keypoints, get_warp_matrix, hflip_matrix, photometric,
)
from posekit.data.transforms.preprocess import warp_image


class BottomUpDataset(SeededDataset):
    """One sample per image (training: images with at least one person with labelled keypoints).

    Training (HigherHRNet's pipeline, parameters from AugmentConfig): flip with augment.flip, then one
    random affine of the whole image: a square region of side (short image side) * U(augment.scale)
    around the image centre, shifted by U(+-augment.translate) input pixels, rotated by
    U(+-augment.rotation) degrees with augment.rotation_prob; then the photometric options if set.
    Training without `augment`: the whole image, long side fitted to the square input, centred and
    zero-padded.

    The codec gets keypoints (N, K, 2) in input pixels and visible (N, K) for up to max_people
    non-crowd persons with labelled keypoints (keypoints that leave the input become invisible).
    `masks` holds one float32 (h, w) mask per codec.output_sizes entry: 0 on crowd regions and on
    persons without keypoints, 1 elsewhere (the padding outside the image included).

    Validation (train=False) feeds the network what `posekit predict` feeds it: `self.preprocess`'s
    published test resize (posekit.data.transforms.preprocess), so its size varies with the image's
    aspect ratio (batch size 1). Its samples hold only what prediction needs: `image`, `image_id`,
    `warp`; a target of the codec's fixed size would not fit the resized image.
    """

    def __init__(self, data: PoseData, input_size: int | Sequence[int], codec: Any,
                 augment: AugmentConfig | None = None, train: bool = False, seed: int = 0,
                 max_people: int = 30) -> None:
        super().__init__(seed)
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(int(s) for s in input_size)
        if len(size) != 2 or size[0] != size[1] or size[0] <= 0:
            raise ValueError(f"BottomUpDataset: input_size must be one positive square size, got {input_size}")
        if not hasattr(codec, "output_sizes"):
            raise ValueError(f"BottomUpDataset: codec {type(codec).__name__} has no output_sizes "
                             "(a bottom-up codec lists its (w, h) output sizes)")
        if len(data) == 0:
            raise DataError(f"{data.source or 'dataset'}: no images")
        self.data = data
        self.input_size = size
        self.preprocess = Preprocess(size)
        self.codec = codec
        self.augment = augment
        self.train = train
        self.max_people = max_people
        self.flip_index = data.keypoint_set.flip_index
        self.indices = [i for i, r in enumerate(data.records)
                        if not train or any(not p.iscrowd and p.num_keypoints > 0 for p in r.persons)]
        if not self.indices:
            raise DataError(f"{data.source or 'dataset'}: no image with an annotated person in {len(data)} images")

    def __len__(self) -> int:
        return len(self.indices)

    def _file(self, index: int) -> str:
        return self.data.records[self.indices[index]].file_name

    def _image_size(self, index: int) -> tuple[int, int]:
        record = self.data.records[self.indices[index]]
        return record.width, record.height

    def _sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        record = self.data.records[self.indices[index]]
        image = self._load_image(index)
        if not self.train:
            return self._test_sample(record, image)
        height, width = image.shape[:2]
        side_out = self.input_size[0]
        persons = [p for p in record.persons if not p.iscrowd and p.num_keypoints > 0][:self.max_people]
        k = self.data.keypoint_set.num_keypoints
        keypoints = np.array([p.keypoints[:, :2] for p in persons], dtype=np.float64).reshape(-1, k, 2)
        visible = np.array([p.keypoints[:, 2] > 0 for p in persons], dtype=np.float32).reshape(-1, k)
        center = np.array([width * 0.5, height * 0.5])  # as a box (0, 0, w, h): exact at equal size
        pre_flip = np.eye(2, 3)
        angle = 0.0
        aug = self.augment
        if aug is not None:
            if rng.random() < aug.flip:
                keypoints, visible = flip_keypoints(keypoints, visible, width, self.flip_index)
                center[0] = width - 1 - center[0]
                pre_flip = hflip_matrix(width)
            side = min(width, height) * rng.uniform(aug.scale[0], aug.scale[1])
            angle = rng.uniform(-aug.rotation, aug.rotation) if rng.random() < aug.rotation_prob else 0.0
            if aug.translate > 0:
                center = center + rng.uniform(-aug.translate, aug.translate, 2) * side / side_out
        else:
            side = float(max(width, height))
        inner = get_warp_matrix(center, (side, side), angle, self.input_size)
        warp = compose_affine(inner, pre_flip)
        warped = warp_image(image, warp, self.input_size)
        if aug is not None:
            warped = photometric(warped, rng, aug.hsv, aug.blur, aug.coarse_dropout)
        points = apply_affine(keypoints, inner).astype(np.float32)
        inside = ((points[..., 0] >= 0) & (points[..., 0] <= side_out - 1)
                  & (points[..., 1] >= 0) & (points[..., 1] <= side_out - 1))
        visible = (visible * inside).astype(np.float32)
        sample = {"image": normalize_image(warped)}
        sample.update(as_tensors(self.codec.encode(points, visible)))
        sample["masks"] = self._masks(record, height, width, warp)
        sample["image_id"] = int(record.image_id)
        sample["warp"] = torch.from_numpy(warp)
        return sample

    def _test_sample(self, record, image: np.ndarray) -> dict[str, Any]:
        resized, warp = self.preprocess.resize_image(image)
        return {"image": normalize_image(resized), "image_id": int(record.image_id), "warp": torch.from_numpy(warp)}

    def _masks(self, record, height: int, width: int, warp: np.ndarray) -> list[torch.Tensor]:
        ignored = ignore_mask(record, height, width)
        masks = []
        for out_w, out_h in self.codec.output_sizes:
            if ignored is None:
                masks.append(torch.from_numpy(np.ones((out_h, out_w), dtype=np.float32)))
                continue
            to_output = np.array([[out_w / self.input_size[0], 0, 0], [0, out_h / self.input_size[1], 0]])
            warped = cv2.warpAffine(ignored.astype(np.float32), compose_affine(to_output, warp), (out_w, out_h),
                                    flags=cv2.INTER_LINEAR, borderValue=0.0)
            masks.append(torch.from_numpy((warped < 0.5).astype(np.float32)))
        return masks
