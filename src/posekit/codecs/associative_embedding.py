"""Associative-embedding codec (HigherHRNet): multi-resolution Gaussian heatmaps + tag targets.

encode: keypoints (N, K, 2) in input pixels and visible (N, K) ->
  `heatmaps_0` (K, H/4, W/4) and `heatmaps_1` (K, H/2, W/2): unnormalised Gaussians, sigma 2 in
  output pixels at both resolutions, 6σ+3 patch, overlapping people combined with max;
  `joints` (max_people, K, 2) int64: per person the flat index k·h·w + y·w + x of each visible joint
  at 1/4 resolution and a valid flag, packed from slot 0 as the original `JointsGenerator` does.
decode: raw outputs (and the mirrored image's) -> grouped persons (published parse), through
  `merge_outputs` (resolutions, flip, projection to the input size) and `parse_maps`; the
  associative-embedding estimator calls those two itself to average test scales.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from posekit.codecs import register_codec


def gaussian_patch(sigma: float) -> np.ndarray:
    """An unnormalised (peak 1) square Gaussian of side int(6σ+3), centred at 3σ+1, float64."""
    size = int(6 * sigma + 3)
    centre = 3 * sigma + 1
    x = np.arange(size, dtype=np.float64)
    return np.exp(-((x[None, :] - centre) ** 2 + (x[:, None] - centre) ** 2) / (2 * sigma ** 2))


def _output_pixels(keypoints: np.ndarray, stride: float) -> np.ndarray:
    # The original maps joints straight into the output grid, then truncates toward zero (int()).
    return np.trunc(keypoints / stride).astype(np.int64)


def draw_heatmaps(keypoints: np.ndarray, visible: np.ndarray, size: tuple[int, int], stride: float,
                  sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Max-combined Gaussians (K, h, w) and, per person/joint, the owner's patch footprint is
    returned as an owner map (K, h, w) of person index (-1 where no patch), used for ideal tags."""
    w, h = size
    num_persons, num_k = visible.shape
    heatmaps = np.zeros((num_k, h, w), np.float32)
    owner = np.full((num_k, h, w), -1, np.int64)
    patch = gaussian_patch(sigma)
    radius = int(3 * sigma + 1)
    pixels = _output_pixels(keypoints, stride)
    for n in range(num_persons):
        for k in range(num_k):
            x, y = pixels[n, k]
            if not visible[n, k] or x < 0 or y < 0 or x >= w or y >= h:
                continue
            x0, y0 = x - radius, y - radius
            xa, xb = max(0, x0), min(w, x0 + patch.shape[1])
            ya, yb = max(0, y0), min(h, y0 + patch.shape[0])
            piece = patch[ya - y0:yb - y0, xa - x0:xb - x0]
            region = heatmaps[k, ya:yb, xa:xb]
            wins = piece > region
            owner[k, ya:yb, xa:xb][wins] = n
            heatmaps[k, ya:yb, xa:xb] = np.maximum(region, piece)
    return heatmaps, owner


def project(heatmaps: torch.Tensor, tags: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear resize (align_corners=False) of heatmaps (B, K, h, w) and tags (B, K, h, w, L) to
    `size` (w, h), as the original's PROJECT2IMAGE."""
    size = (size[1], size[0])
    heatmaps = F.interpolate(heatmaps, size=size, mode="bilinear", align_corners=False)
    b, kk, h, w, l = tags.shape
    tags = F.interpolate(tags.permute(0, 4, 1, 2, 3).reshape(b, l * kk, h, w), size=size,
                         mode="bilinear", align_corners=False)
    return heatmaps, tags.reshape(b, l, kk, *size).permute(0, 2, 3, 4, 1)


@register_codec("associative_embedding")
class AssociativeEmbeddingCodec:
    """Targets and decoding of HigherHRNet, a `codecs.base.BottomUpCodec`. `input_size` is (w, h);
    outputs at strides 4 and 2: [(B, 2K, h/4, w/4) heatmaps + tags, (B, K, h/2, w/2) heatmaps]."""

    default_loss = "associative_embedding"

    def __init__(self, input_size: Sequence[int] = (512, 512), sigma: float = 2.0, max_people: int = 30,
                 num_keypoints: int = 17, strides: Sequence[int] = (4, 2), nms_kernel: int = 5,
                 detection_threshold: float = 0.1, tag_threshold: float = 1.0, adjust: bool = True,
                 refine: bool = True, joint_order: Sequence[int] | None = None):
        from posekit.grouping.associative_embedding import GroupingParams
        self.input_size = (int(input_size[0]), int(input_size[1]))
        if any(s % max(strides) for s in self.input_size):
            raise ValueError(f"associative_embedding: input_size {self.input_size} is not divisible by {max(strides)}")
        self.sigma = sigma
        self.max_people = max_people
        self.num_keypoints = num_keypoints
        self.strides = tuple(strides)
        self.grouping = GroupingParams(num_keypoints=num_keypoints, max_people=max_people, nms_kernel=nms_kernel,
                                       detection_threshold=detection_threshold, tag_threshold=tag_threshold,
                                       adjust=adjust, refine=refine,
                                       joint_order=tuple(joint_order) if joint_order else None)

    @property
    def output_sizes(self) -> list[tuple[int, int]]:
        """(w, h) of each output, one per stride: [(w/4, h/4), (w/2, h/2)] by default."""
        w, h = self.input_size
        return [(w // s, h // s) for s in self.strides]

    def _check(self, keypoints: np.ndarray, visible: np.ndarray) -> None:
        if keypoints.ndim != 3 or keypoints.shape[1:] != (self.num_keypoints, 2) or visible.shape != keypoints.shape[:2]:
            raise ValueError(f"associative_embedding.encode: expected keypoints (N, {self.num_keypoints}, 2) and "
                             f"visible (N, {self.num_keypoints}); got {keypoints.shape} and {visible.shape}")

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) in input pixels, visible (N, K) -> `heatmaps_i` (K, h_i, w_i) per stride
        and `joints` (max_people, K, 2), as the module docstring describes."""
        keypoints = np.asarray(keypoints, np.float64)
        visible = np.asarray(visible) > 0
        self._check(keypoints, visible)
        out = {}
        for i, (size, stride) in enumerate(zip(self.output_sizes, self.strides)):
            out[f"heatmaps_{i}"] = draw_heatmaps(keypoints, visible, size, stride, self.sigma)[0]
        out["joints"] = self.encode_joints(keypoints, visible)
        return out

    def encode_joints(self, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """(max_people, K, 2) int64 tag-loss targets: per person, (flat index k·h·w + y·w + x at 1/4
        resolution, 1) for each visible in-map joint, packed from slot 0; unused slots stay (0, 0).
        Persons beyond max_people are dropped."""
        w, h = self.output_sizes[0]
        joints = np.zeros((self.max_people, self.num_keypoints, 2), np.int64)
        pixels = _output_pixels(keypoints, self.strides[0])
        for n in range(min(len(keypoints), self.max_people)):
            slot = 0
            for k in range(self.num_keypoints):
                x, y = pixels[n, k]
                if visible[n, k] and 0 <= x < w and 0 <= y < h:
                    joints[n, slot] = (k * h * w + y * w + x, 1)
                    slot += 1
        return joints

    def ideal_outputs(self, keypoints: np.ndarray, visible: np.ndarray) -> list[torch.Tensor]:
        """The raw outputs of a perfect network: [(2K, h/4, w/4) heatmaps + tags, (K, h/2, w/2)].
        Tags are person index + 1 wherever that person's Gaussian wins, 0 elsewhere."""
        keypoints = np.asarray(keypoints, np.float64)
        visible = np.asarray(visible) > 0
        self._check(keypoints, visible)
        outputs = []
        for i, (size, stride) in enumerate(zip(self.output_sizes, self.strides)):
            heatmaps, owner = draw_heatmaps(keypoints, visible, size, stride, self.sigma)
            if i == 0:
                heatmaps = np.concatenate((heatmaps, (owner + 1).astype(np.float32)), axis=0)
            outputs.append(torch.from_numpy(heatmaps)[None])
        return outputs

    def merge_outputs(self, outputs: Sequence[torch.Tensor], flipped: Sequence[torch.Tensor] | None = None,
                      flip_index: Sequence[int] | None = None, project_size: tuple[int, int] | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw network outputs (already mirrored back if `flipped`) -> heatmaps (B, K, H, W) and tags
        (B, K, H, W, L): 1/4 maps upsampled to 1/2 and averaged with the 1/2 heatmaps, flip pass
        index-permuted and averaged (its tags become a second tag dimension), then bilinearly
        resized to `project_size` (w, h), the input size, as PROJECT2IMAGE does."""
        k = self.num_keypoints
        passes = [(outputs, None)] + ([(flipped, flip_index)] if flipped is not None else [])
        heat_passes, tag_passes = [], []
        for outs, perm in passes:
            target = outs[-1].shape[-2:]
            quarter = F.interpolate(outs[0], size=target, mode="bilinear", align_corners=False)
            heat = (quarter[:, :k] + sum(o[:, :k] for o in outs[1:])) / len(outs)
            tags = quarter[:, k:2 * k]
            if perm is not None:
                heat, tags = heat[:, list(perm)], tags[:, list(perm)]
            heat_passes.append(heat)
            tag_passes.append(tags)
        heatmaps = sum(heat_passes) / len(heat_passes)
        tags = torch.stack(tag_passes, dim=-1)
        if project_size is not None:
            heatmaps, tags = project(heatmaps, tags, project_size)
        return heatmaps, tags

    def quarter_tags(self, outputs: Sequence[torch.Tensor], flipped: Sequence[torch.Tensor] | None = None,
                     flip_index: Sequence[int] | None = None) -> torch.Tensor:
        """The 1/4-resolution tags (B, K, h/4, w/4, L) that `merge_outputs` upsamples (one tag
        dimension per pass, the flip pass index-permuted): grouping bounds its search with them."""
        k = self.num_keypoints
        passes = [outputs[0][:, k:2 * k]]
        if flipped is not None:
            passes.append(flipped[0][:, k:2 * k][:, list(flip_index)])
        return torch.stack(passes, dim=-1)

    def parse_maps(self, outputs: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
        """{'heatmaps': (B, K, H, W), 'tags': (B, K, H, W, L)} -> per image (keypoints (P, K, 3) in
        the heatmaps' pixel grid, scores (P,)) by the published parse. Optional 'coarse_heatmaps'
        and 'coarse_tags': the half-size maps the others are the ×2 projection of, or for the tags
        the quarter-size ones those came from (faster, same result; see `parse`)."""
        from posekit.grouping.associative_embedding import parse
        heatmaps = torch.as_tensor(outputs["heatmaps"])
        tags = torch.as_tensor(outputs["tags"])
        coarse = outputs.get("coarse_heatmaps"), outputs.get("coarse_tags")
        return [parse(heatmaps[b], tags[b], self.grouping, None if coarse[0] is None else (coarse[0][b], coarse[1][b]))
                for b in range(heatmaps.shape[0])]

    def decode(self, outputs: Sequence[torch.Tensor], flipped: Sequence[torch.Tensor] | None = None,
               flip_index: Sequence[int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Raw network outputs (and `flipped`, the mirrored images' as the network gives them) -> per
        image (keypoints (P, K, 3) in input pixels, scores (P,)): merged and projected to
        `input_size`, then parsed."""
        if flipped is not None:
            flipped = [o.flip(-1) for o in flipped]  # merge_outputs takes them mirrored back
        coarse_heatmaps, coarse_tags = self.merge_outputs(outputs, flipped, flip_index)
        heatmaps, tags = project(coarse_heatmaps, coarse_tags, self.input_size)
        return self.parse_maps({"heatmaps": heatmaps, "tags": tags, "coarse_heatmaps": coarse_heatmaps,
                                "coarse_tags": self.quarter_tags(outputs, flipped, flip_index)})
