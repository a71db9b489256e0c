"""Simple Pose body-part codec: keypoint Gaussians + body-part ("limb") maps, greedy decoding.

Target channels (the published order): body parts 0..L-1, keypoints L..L+K-1, the person mask, and
the max over the keypoint maps (py_data_heatmapper.py writes np.amax there; its comment notes the
original 1 - max was dropped). For COCO, K = 18 (COCO-17 + a neck, the
shoulders' midpoint) and L = 30, so 50 channels. All maps are sampled at the centres of the output
pixels (stride 4), in input-pixel units, so sigma is given in input pixels.

A layout says which internal keypoints exist (a dataset keypoint, or the midpoint of two) and which
limbs join them; `LAYOUTS` holds the published COCO one and a CrowdPose analogue, and any keypoint
set can use its skeleton as the limb list.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from posekit.codecs import register_codec
from posekit.grouping.greedy_parts import GreedyParams, group_parts
from posekit.keypoints import KeypointSet, get_keypoint_set


@dataclass(frozen=True)
class PartLayout:
    """The codec's internal keypoints (each a dataset keypoint or the midpoint of two) and its limbs."""

    names: tuple[str, ...]                       # internal keypoint names
    sources: tuple[int | tuple[int, int], ...]   # dataset index, or the midpoint of two (visible if both are)
    limbs: tuple[tuple[int, int], ...]           # pairs of internal keypoint indices


def _layout(dataset: KeypointSet, spec: list[tuple[str, str | tuple[str, str]]],
            limbs: list[tuple[str, str]]) -> PartLayout:
    names = tuple(n for n, _ in spec)
    sources = tuple(dataset.index(s) if isinstance(s, str) else (dataset.index(s[0]), dataset.index(s[1]))
                    for _, s in spec)
    pos = {n: i for i, n in enumerate(names)}
    return PartLayout(names, sources, tuple((pos[a], pos[b]) for a, b in limbs))


def coco_layout() -> PartLayout:
    """The published 18-keypoint, 30-limb configuration (`config/config.py`, "Canonical")."""
    coco = get_keypoint_set("coco17")
    spec = [("nose", "nose"), ("neck", ("left_shoulder", "right_shoulder")),
            ("Rsho", "right_shoulder"), ("Relb", "right_elbow"), ("Rwri", "right_wrist"),
            ("Lsho", "left_shoulder"), ("Lelb", "left_elbow"), ("Lwri", "left_wrist"),
            ("Rhip", "right_hip"), ("Rkne", "right_knee"), ("Rank", "right_ankle"),
            ("Lhip", "left_hip"), ("Lkne", "left_knee"), ("Lank", "left_ankle"),
            ("Reye", "right_eye"), ("Leye", "left_eye"), ("Rear", "right_ear"), ("Lear", "left_ear")]
    limbs = [("neck", "nose"), ("neck", "Reye"), ("neck", "Leye"), ("neck", "Rear"), ("neck", "Lear"),
             ("nose", "Reye"), ("nose", "Leye"), ("Reye", "Rear"), ("Leye", "Lear"),
             ("neck", "Rsho"), ("Rsho", "Relb"), ("Relb", "Rwri"),
             ("neck", "Lsho"), ("Lsho", "Lelb"), ("Lelb", "Lwri"),
             ("neck", "Rhip"), ("Rhip", "Rkne"), ("Rkne", "Rank"),
             ("neck", "Lhip"), ("Lhip", "Lkne"), ("Lkne", "Lank"),
             ("nose", "Rsho"), ("nose", "Lsho"), ("Rsho", "Rhip"), ("Rhip", "Lkne"),
             ("Lsho", "Lhip"), ("Lhip", "Rkne"), ("Rear", "Rsho"), ("Lear", "Lsho"), ("Rhip", "Lhip")]
    return _layout(coco, spec, limbs)


def crowdpose_layout() -> PartLayout:
    """CrowdPose-14 (it has its own neck): the COCO tree plus the analogous redundant limbs.
    Not a published configuration; it follows the same design."""
    cp = get_keypoint_set("crowdpose14")
    spec = [(n, n) for n in cp.names]
    limbs = [("neck", "top_head"),
             ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
             ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
             ("neck", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
             ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
             ("top_head", "right_shoulder"), ("top_head", "left_shoulder"),
             ("right_shoulder", "right_hip"), ("right_hip", "left_knee"),
             ("left_shoulder", "left_hip"), ("left_hip", "right_knee"), ("right_hip", "left_hip")]
    return _layout(cp, spec, limbs)


def skeleton_layout(dataset: KeypointSet) -> PartLayout:
    """Any keypoint set: its own keypoints, its skeleton as the limb list."""
    if not dataset.skeleton:
        raise ValueError(f"keypoint set '{dataset.name}' has no skeleton; the simplepose codec needs limbs")
    return PartLayout(tuple(dataset.names), tuple(range(dataset.num_keypoints)), tuple(map(tuple, dataset.skeleton)))


LAYOUTS = {"coco17": coco_layout, "crowdpose14": crowdpose_layout}


def layout_for(dataset: KeypointSet) -> PartLayout:
    """The LAYOUTS entry for the set's name, else `skeleton_layout` (ValueError if it has no skeleton)."""
    return LAYOUTS[dataset.name]() if dataset.name in LAYOUTS else skeleton_layout(dataset)


@register_codec("simplepose")
class BodyPartCodec:
    """A `codecs.base.BottomUpCodec`. encode: (N, K, 2) keypoints + (N, K) visibility in input pixels
    -> {"targets": (C, h, w)}. decode: (B, C, h, w) maps (the network's last stack at full
    resolution) -> per image (P, K, 3) poses in input pixels and (P,) scores."""

    default_loss = "focal_l2"

    def __init__(self, keypoint_set: str | KeypointSet = "coco17", input_size: tuple[int, int] = (512, 512),
                 stride: int = 4, num_scales: int = 5, sigma: float = 9.0, limb_sigma: float = 7.0,
                 keypoint_threshold: float = 0.01, limb_threshold: float = 0.015, limb_floor: float = 0.01,
                 grouping: dict | None = None, num_keypoints: int | None = None):
        self.keypoint_set = get_keypoint_set(keypoint_set)
        if num_keypoints is not None and num_keypoints != self.keypoint_set.num_keypoints:
            raise ValueError(f"simplepose codec: keypoint_set '{self.keypoint_set.name}' has "
                             f"{self.keypoint_set.num_keypoints} keypoints, not {num_keypoints}; pass the set "
                             "(a count names no set: CrowdPose and LSP both have 14)")
        self.layout = layout_for(self.keypoint_set)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        if self.input_size[0] % stride or self.input_size[1] % stride:
            raise ValueError(f"simplepose codec: input_size {self.input_size} must be a multiple of the stride {stride}")
        self.stride = stride
        self.output_size = (self.input_size[0] // stride, self.input_size[1] // stride)
        self.output_sizes = [(self.output_size[0] >> s, self.output_size[1] >> s) for s in range(num_scales)]
        self.sigma, self.limb_sigma = float(sigma), float(limb_sigma)
        self.keypoint_threshold, self.limb_threshold, self.limb_floor = keypoint_threshold, limb_threshold, limb_floor
        self.params = GreedyParams(**(grouping or {}))
        self.num_limbs = len(self.layout.limbs)
        self.num_parts = len(self.layout.names)
        self.num_channels = self.num_limbs + self.num_parts + 2
        self.mask_channel = self.num_limbs + self.num_parts
        w, h = self.output_size
        # output pixel centres in input pixels (integer = pixel centre convention)
        self._gx = np.arange(w) * stride + (stride - 1) / 2.0
        self._gy = np.arange(h) * stride + (stride - 1) / 2.0

    # ---------------------------------------------------------------- encode
    def to_internal(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dataset keypoints (N, K, 2), (N, K) -> internal (N, K', 2), (N, K') (adds e.g. the neck)."""
        keypoints = np.asarray(keypoints, np.float64).reshape(-1, self.keypoint_set.num_keypoints, 2)
        visible = np.asarray(visible).reshape(keypoints.shape[:2]) > 0
        out = np.zeros((len(keypoints), self.num_parts, 2))
        vis = np.zeros((len(keypoints), self.num_parts), bool)
        for i, src in enumerate(self.layout.sources):
            if isinstance(src, tuple):
                out[:, i] = (keypoints[:, src[0]] + keypoints[:, src[1]]) / 2
                vis[:, i] = visible[:, src[0]] & visible[:, src[1]]
            else:
                out[:, i], vis[:, i] = keypoints[:, src], visible[:, src]
        return out, vis

    def keypoint_maps(self, points: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """(K', h, w): max over persons of exp(-d^2 / 2 sigma^2), zero below keypoint_threshold."""
        maps = np.zeros((self.num_parts, len(self._gy), len(self._gx)), np.float32)
        two_s2 = 2 * self.sigma ** 2
        for k in range(self.num_parts):
            pts = points[visible[:, k], k]
            if len(pts) == 0:
                continue
            ex = np.exp(-(self._gx[None] - pts[:, :1]) ** 2 / two_s2)
            ey = np.exp(-(self._gy[None] - pts[:, 1:]) ** 2 / two_s2)
            g = (ey[:, :, None] * ex[:, None, :]).max(0)
            g[g < self.keypoint_threshold] = 0
            maps[k] = g
        return maps

    def limb_maps(self, points: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """(L, h, w): exp(-d^2 / 2 limb_sigma^2) of the distance to the limb's line, inside the limb's
        box padded by one stride; values <= limb_threshold become limb_floor; same-type limbs averaged."""
        h, w = len(self._gy), len(self._gx)
        maps = np.zeros((self.num_limbs, h, w), np.float32)
        two_s2 = 2 * self.limb_sigma ** 2
        for l, (a, b) in enumerate(self.layout.limbs):
            ok = visible[:, a] & visible[:, b] & np.any(points[:, a] != points[:, b], axis=1)
            if not ok.any():
                continue
            p1, p2 = points[ok, a], points[ok, b]
            # the box in output-pixel indices, padded by one output pixel (one stride); measured from
            # the pixel centres so that the box of a mirrored limb is the mirrored box
            centre = (self.stride - 1) / 2.0
            lo = np.round((np.minimum(p1, p2) - centre) / self.stride - 1).astype(int)
            hi = np.round((np.maximum(p1, p2) - centre) / self.stride + 1).astype(int)
            inx = (np.arange(w)[None] >= lo[:, :1]) & (np.arange(w)[None] <= hi[:, :1])
            iny = (np.arange(h)[None] >= lo[:, 1:]) & (np.arange(h)[None] <= hi[:, 1:])
            box = iny[:, :, None] & inx[:, None, :]
            d = p2 - p1
            norm = np.hypot(d[:, 0], d[:, 1])
            cross = d[:, 0, None, None] * (p1[:, 1, None, None] - self._gy[None, :, None]) \
                - (p1[:, 0, None, None] - self._gx[None, None, :]) * d[:, 1, None, None]
            val = np.exp(-(cross / norm[:, None, None]) ** 2 / two_s2)
            val[val <= self.limb_threshold] = self.limb_floor
            count = box.sum(0)
            total = (val * box).sum(0)
            maps[l] = np.where(count > 0, total / np.maximum(count, 1), 0)
        return maps

    def encode(self, keypoints: np.ndarray, visible: np.ndarray,
               person_mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """person_mask: optional (H, W) person segmentation at input or output size. Without it the
        person-mask channel is the keypoint-derived silhouette (the support of the limb bands and
        keypoint Gaussians). Either way it is eroded by 3x3 as published."""
        points, vis = self.to_internal(keypoints, visible)
        kps = self.keypoint_maps(points, vis)
        limbs = self.limb_maps(points, vis)
        w, h = self.output_size
        if person_mask is not None:
            mask = np.asarray(person_mask, np.float32)
            if mask.shape != (h, w):
                mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
            mask = (mask >= 0.5).astype(np.uint8)
        else:
            mask = ((limbs > self.limb_floor + 1e-6).any(0) | (kps > 0).any(0)).astype(np.uint8)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
        keypoint_max = kps.max(0) if len(kps) else np.zeros((h, w), np.float32)
        targets = np.concatenate([limbs, kps, mask[None].astype(np.float32), keypoint_max[None]])
        return {"targets": np.clip(targets, 0.0, 1.0).astype(np.float32)}

    # ---------------------------------------------------------------- decode
    def flip_index_channels(self) -> np.ndarray:
        """Channel permutation for horizontally flipped maps (limbs, keypoints, the two extras)."""
        kp_flip = self.keypoint_set.flip_index
        part_flip = []
        for src in self.layout.sources:
            key = tuple(sorted(int(kp_flip[s]) for s in src)) if isinstance(src, tuple) else int(kp_flip[src])
            norm = [tuple(sorted(s)) if isinstance(s, tuple) else s for s in self.layout.sources]
            part_flip.append(norm.index(key))
        limb_flip = []
        for a, b in self.layout.limbs:
            fa, fb = part_flip[a], part_flip[b]
            for m, (c, d) in enumerate(self.layout.limbs):
                if {c, d} == {fa, fb}:
                    limb_flip.append(m)
                    break
            else:
                raise ValueError(f"simplepose layout: the mirror of limb {self.layout.names[a]}-"
                                 f"{self.layout.names[b]} is not in the limb list")
        return np.array(limb_flip + [self.num_limbs + p for p in part_flip]
                        + [self.mask_channel, self.mask_channel + 1])

    def flip_maps(self, maps: np.ndarray) -> np.ndarray:
        """Maps of a flipped image (..., C, h, w) back into the unflipped frame."""
        return maps[..., self.flip_index_channels(), :, ::-1]

    def upsample(self, maps: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """(C, h, w) network maps -> (C, H, W), bicubic (as the original), at `size` (W, H), by default
        the maps' own input size (w, h) x stride. Not the codec's configured input_size: at test time
        the image is resized by its short side, so the network input (and its maps) need not be square."""
        maps = np.asarray(maps, np.float32)
        size = size or (maps.shape[2] * self.stride, maps.shape[1] * self.stride)
        out = np.empty((maps.shape[0], size[1], size[0]), np.float32)
        # channel by channel into one array: no (H, W, C) transposes; the same kernel as torch bicubic
        for k in range(maps.shape[0]):
            cv2.resize(maps[k], size, dst=out[k], interpolation=cv2.INTER_CUBIC)
        return out

    def aggregate(self, outputs: list[np.ndarray], flipped: list[np.ndarray] | None = None) -> np.ndarray:
        """Test-time augmentation as published: every test scale's maps (and its flipped-image maps,
        un-flipped) resized to the first scale's input size and averaged."""
        total = None
        size = (outputs[0].shape[2] * self.stride, outputs[0].shape[1] * self.stride)  # the first scale's input
        for i, o in enumerate(outputs):
            m = self.upsample(o, size)
            if flipped is not None:
                m += self.upsample(np.ascontiguousarray(self.flip_maps(flipped[i])), size)
                m *= 0.5
            total = m if total is None else total + m
        if len(outputs) > 1:
            total /= len(outputs)
        return total

    def group(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Greedy assignment on input-resolution maps (C, H, W) -> dataset poses (P, K, 3), scores."""
        limbs = maps[:self.num_limbs]
        kps = maps[self.num_limbs:self.num_limbs + self.num_parts]
        poses, scores = group_parts(kps, limbs, list(self.layout.limbs), self.params)
        out = np.zeros((len(poses), self.keypoint_set.num_keypoints, 3))
        for i, src in enumerate(self.layout.sources):
            if not isinstance(src, tuple):  # midpoints (the neck) have no dataset keypoint
                out[:, src] = poses[:, i]
        return out, scores

    def decode(self, outputs: np.ndarray, flipped: np.ndarray | None = None,
               flip_index: Sequence[int] | np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """(B, C, h, w) network maps at the output stride, and optionally the mirrored images' maps as
        the network gives them -> per image ((P, K, 3) poses in input pixels: x, y, keypoint score,
        zeros for missing keypoints; (P,) person scores). The channels are un-mirrored by this codec's
        own keypoint set, which `flip_index` (when given) must be."""
        outputs = np.asarray(outputs)
        if outputs.ndim != 4 or outputs.shape[1] != self.num_channels:
            raise ValueError(f"simplepose decode: expected maps (B, {self.num_channels}, h, w), got {outputs.shape}")
        if flip_index is not None and list(flip_index) != list(self.keypoint_set.flip_index):
            raise ValueError(f"simplepose decode: flip_index is not that of the codec's keypoint set "
                             f"'{self.keypoint_set.name}'")
        flips = [None] * len(outputs) if flipped is None else [[f] for f in np.asarray(flipped)]
        return [self.group(self.aggregate([maps], flip)) for maps, flip in zip(outputs, flips)]

    def ideal_outputs(self, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """What a perfect network would output for these persons: the encoded targets, (1, C, h, w)."""
        return self.encode(keypoints, visible)["targets"][None]
