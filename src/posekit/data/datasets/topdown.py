"""Top-down dataset: one person crop per sample, affine-warped to the network input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from posekit.config import AugmentConfig
from posekit.data.datasets.common import SeededDataset, as_tensors, normalize_image
from posekit.data.records import DataError, PoseData
from posekit.data.transforms import (
    BBOX_PADDING, Preprocess, apply_affine, body_halves, compose_affine, cut_body_center_scale, flip_keypoints,
    get_warp_matrix, half_body_center_scale, half_body_ids, hflip_matrix, photometric, random_scale_rotation,
    shoulders_and_hips,
)
from posekit.data.transforms.preprocess import warp_image

# A box given with detections: image_id -> [(xywh, score), ...]
Boxes = dict[int, Sequence[tuple[Sequence[float], float]]]


@dataclass
class _Instance:
    record: int              # index into data.records
    bbox: np.ndarray         # (4,) xywh, clipped to the image
    keypoints: np.ndarray    # (K, 3) x, y, v (zeros for a detection box)
    score: float
    area: float


def clip_bbox(bbox: Sequence[float], width: int, height: int) -> np.ndarray | None:
    """xywh clipped to the image; None when nothing of it is left."""
    x, y, w, h = (float(v) for v in bbox[:4])
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(width), x + max(0.0, w)), min(float(height), y + max(0.0, h))
    if x2 <= x1 or y2 <= y1:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float32)


class TopDownDataset(SeededDataset):
    """One sample per person (training: non-crowd persons with at least `min_keypoints` labelled
    joints; validation: every non-crowd person with a labelled joint, or every box of `boxes` when
    detections are given).

    The crop is `self.preprocess`'s (posekit.data.transforms.preprocess, what inference crops with): the
    person box padded by augment.bbox_padding (BBOX_PADDING without a config) and grown to the input's
    aspect ratio, warped with get_warp_matrix (standard, not UDP). Training augmentation starts from that
    centre and scale, in mmpose's order: flip (mirrors the image, the keypoints and the box centre;
    folded into the one warp), half-body, scale/rotation/shift of the box, then HSV, blur and
    CoarseDropout on the crop.
    Keypoints that leave the crop get keypoints_visible = 0. With train=False only bbox_padding of
    `augment` is used.
    """

    def __init__(self, data: PoseData, input_size: Sequence[int], codec: Any,
                 augment: AugmentConfig | None = None, train: bool = False, seed: int = 0,
                 min_keypoints: int = 1, boxes: Boxes | None = None) -> None:
        super().__init__(seed)
        if len(data) == 0:
            raise DataError(f"{data.source or 'dataset'}: no images")
        self.data = data
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.codec = codec
        self.augment = augment
        self.train = train
        self.flip_index = data.keypoint_set.flip_index
        self.upper_ids, self.lower_ids = body_halves(data.keypoint_set)
        self.body_axis = shoulders_and_hips(data.keypoint_set)
        if augment is not None and augment.cut_body > 0 and self.body_axis is None:
            raise DataError(f"{data.source or 'dataset'}: data.augment.cut_body needs two shoulders and two hips; "
                            f"keypoint set '{data.keypoint_set.name}' has no joints named so")
        self.instances = (self._detection_instances(boxes) if boxes is not None
                          else self._person_instances(max(1, min_keypoints) if train else 1))
        if not self.instances:
            what = "detection boxes" if boxes is not None else f"persons with >= {min_keypoints} labelled keypoints"
            raise DataError(f"{data.source or 'dataset'}: no {what} in {len(data)} images")

    def _person_instances(self, min_keypoints: int) -> list[_Instance]:
        instances = []
        for i, record in enumerate(self.data.records):
            for person in record.persons:
                if person.iscrowd or person.num_keypoints < min_keypoints:
                    continue
                bbox = clip_bbox(person.bbox, record.width, record.height)
                if bbox is None:
                    continue
                area = float(person.area) if person.area > 0 else float(bbox[2] * bbox[3])
                instances.append(_Instance(i, bbox, person.keypoints.astype(np.float32), 1.0, area))
        return instances

    def _detection_instances(self, boxes: Boxes) -> list[_Instance]:
        k = self.data.keypoint_set.num_keypoints
        instances = []
        for i, record in enumerate(self.data.records):
            for xywh, score in boxes.get(record.image_id, ()):
                bbox = clip_bbox(xywh, record.width, record.height)
                if bbox is not None:
                    instances.append(_Instance(i, bbox, np.zeros((k, 3), np.float32), float(score),
                                               float(bbox[2] * bbox[3])))
        return instances

    @property
    def preprocess(self) -> Preprocess:
        """The crop without augmentation; a property, since set_epoch may switch `augment` (its padding)."""
        return Preprocess(self.input_size, self.augment.bbox_padding if self.augment is not None else BBOX_PADDING)

    def __len__(self) -> int:
        return len(self.instances)

    def _file(self, index: int) -> str:
        return self.data.records[self.instances[index].record].file_name

    def _image_size(self, index: int) -> tuple[int, int]:
        record = self.data.records[self.instances[index].record]
        return record.width, record.height

    def _sample(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        inst = self.instances[index]
        image = self._load_image(index)
        width = image.shape[1]
        in_w, in_h = self.input_size
        aug = self.augment if self.train else None
        center, scale = self.preprocess.center_scale(inst.bbox)
        keypoints = inst.keypoints[:, :2].astype(np.float64)
        visible = (inst.keypoints[:, 2] > 0).astype(np.float32)
        pre_flip = np.eye(2, 3)
        angle, flipped = 0.0, False
        if aug is not None:
            if rng.random() < aug.flip:
                keypoints, visible = flip_keypoints(keypoints, visible, width, self.flip_index)
                center[0] = width - 1 - center[0]
                pre_flip, flipped = hflip_matrix(width), True
            if aug.half_body > 0 and rng.random() < aug.half_body:
                ids = half_body_ids(visible, self.upper_ids, self.lower_ids, rng)
                if ids is not None:
                    center, scale = half_body_center_scale(keypoints, ids, in_w / in_h)
            elif aug.cut_body > 0 and rng.random() < aug.cut_body:
                cut = cut_body_center_scale(keypoints, visible, *self.body_axis, rng, in_w / in_h, aug.cut_range)
                if cut is not None:
                    center, scale = cut
            factor, angle = random_scale_rotation(rng, aug.scale, aug.rotation, aug.rotation_prob, aug.jitter)
            scale = scale * factor
            if aug.translate > 0:  # translate is in input pixels
                center = center + rng.uniform(-aug.translate, aug.translate, 2) * scale[0] / in_w
        # `inner` maps the (possibly mirrored) image to the input; `warp` includes the mirror, so it
        # maps the original image, as the batch contract says. Without augmentation both are exactly
        # self.preprocess.crop_warp(bbox), the warp a Predictor crops the same box with.
        inner = get_warp_matrix(center, scale, angle, self.input_size)
        warp = compose_affine(inner, pre_flip)
        crop = warp_image(image, warp, self.input_size)
        if aug is not None:
            crop = photometric(crop, rng, aug.hsv, aug.blur, aug.coarse_dropout)
        points = apply_affine(keypoints, inner).astype(np.float32)
        inside = ((points[:, 0] >= 0) & (points[:, 0] <= in_w - 1) & (points[:, 1] >= 0) & (points[:, 1] <= in_h - 1))
        visible = visible * inside
        sample = {"image": normalize_image(crop)}
        sample.update(as_tensors(self.codec.encode(points, visible)))
        sample.update({
            "keypoints": torch.from_numpy(points),
            "keypoints_visible": torch.from_numpy(visible.astype(np.float32)),
            "image_id": int(self.data.records[inst.record].image_id),
            "warp": torch.from_numpy(warp),
            "bbox": torch.from_numpy(inst.bbox.copy()),
            "bbox_score": inst.score,
            "area": inst.area,
            "flipped": flipped,
        })
        return sample
