"""Bottom-up estimator: whole image in, all persons out.

Generic over the codec: the model returns a list of output maps (one per resolution); the codec
encodes targets, merges raw outputs (`merge_outputs`: resolutions, flip, projection to input size)
and decodes them with its grouping. HigherHRNet's loss is masked heatmap MSE per resolution plus
the associative-embedding pull/push on the 1/4 tag maps.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from posekit.codecs import build_codec
from posekit.data.transforms.geometry import apply_affine, invert_affine
from posekit.estimators.base import Estimator
from posekit.keypoints import KeypointSet, get_keypoint_set
from posekit.models.losses.ae import AssociativeEmbeddingLoss
from posekit.models.losses.heatmap_masked import MaskedHeatmapMSE
from posekit.models.zoo import get_entry


def test_resize_warp(width: int, height: int, input_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The published test-time resize: short side -> input_size, long side -> the next multiple of
    64 at the same scale, image centred. Returns the 2x3 warp original->input and the (w, h) size."""
    scale = input_size / min(width, height)
    long_side = int(np.ceil(max(width, height) * scale / 64) * 64)
    size = (input_size, long_side) if width <= height else (long_side, input_size)
    warp = np.array([[scale, 0.0, size[0] / 2 - scale * width / 2],
                     [0.0, scale, size[1] / 2 - scale * height / 2]])
    return warp, size


class BottomUpEstimator(Estimator):
    default_metric = "AP"

    def __init__(self, model: torch.nn.Module, codec: Any, keypoint_set: KeypointSet,
                 heatmap_factors: Sequence[float] = (1.0, 1.0), push_factor: float = 1e-3,
                 pull_factor: float = 1e-3, test_scales: Sequence[float] = (1.0,)):
        super().__init__(model, codec, keypoint_set)
        self.heatmap_loss = MaskedHeatmapMSE()
        self.ae_loss = AssociativeEmbeddingLoss(push_factor, pull_factor)
        self.heatmap_factors = tuple(heatmap_factors)
        self.test_scales = tuple(test_scales)

    def loss(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        outputs = self.model(batch["image"])
        k = self.keypoint_set.num_keypoints
        masks = batch["masks"]
        if len(masks) != len(outputs):
            raise ValueError(f"bottom-up batch: {len(masks)} masks for {len(outputs)} output resolutions")
        terms: dict[str, torch.Tensor] = {}
        for i, (output, factor) in enumerate(zip(outputs, self.heatmap_factors)):
            target = batch[f"heatmaps_{i}"].to(output)
            terms[f"loss_heatmap_{i}"] = factor * self.heatmap_loss(output[:, :k], target, masks[i].to(output))
        push, pull = self.ae_loss(outputs[0][:, k:2 * k], batch["joints"].to(output.device))
        terms["loss_push"], terms["loss_pull"] = push, pull
        total = sum(terms.values())
        return {"loss": total, **{name: value.detach() for name, value in terms.items()}}

    @torch.no_grad()
    def predict_maps(self, images: torch.Tensor, flip_test: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Merged heatmaps (B, K, H, W) and tags (B, K, H, W, L) at input resolution. Multi-scale
        averages the heatmaps over scales; tags come from scale 1 only, as the published
        `aggregate_results` appends them only there."""
        size = (images.shape[-1], images.shape[-2])
        heatmaps, tags = 0.0, None
        for scale in self.test_scales:
            scaled = images
            if scale != 1:
                target = [max(64, int(round(s * scale / 64)) * 64) for s in images.shape[-2:]]
                scaled = F.interpolate(images, size=target, mode="bilinear", align_corners=False)
            outputs = self.model(scaled)
            flipped = None
            if flip_test:
                flipped = [o.flip(-1) for o in self.model(scaled.flip(-1))]
            heat, tag = self.codec.merge_outputs(outputs, flipped, self.keypoint_set.flip_index, project_size=size)
            heatmaps = heatmaps + heat
            if scale == 1 or len(self.test_scales) == 1:
                tags = tag
        return heatmaps / len(self.test_scales), tags

    @torch.no_grad()
    def predict(self, batch: dict[str, Any], flip_test: bool = True) -> list[list[dict[str, Any]]]:
        heatmaps, tags = self.predict_maps(batch["image"], flip_test)
        decoded = self.codec.decode({"heatmaps": heatmaps, "tags": tags})
        warps = np.asarray(batch["warp"], np.float64)
        image_ids = np.asarray(batch["image_id"]).tolist()
        results = []
        for (persons, scores), warp, image_id in zip(decoded, warps, image_ids):
            points = apply_affine(persons[..., :2], invert_affine(warp))
            results.append([{"image_id": int(image_id),
                             "keypoints": np.concatenate([points[p], persons[p, :, 2:3]], axis=1),
                             "score": float(scores[p])} for p in range(len(persons))])
        return results


def build_bottomup_estimator(model_name: str, keypoint_set: str | KeypointSet | None = None,
                             input_size: tuple[int, int] | None = None, codec: dict | None = None,
                             model_params: dict | None = None, test_scales: Sequence[float] = (1.0,)
                             ) -> Estimator:
    """A zoo model with its codec and loss; codec params override the zoo's defaults. The codec
    picks the estimator: `simplepose` -> SimplePoseEstimator (its loss settings under codec
    params `loss`), otherwise the associative-embedding BottomUpEstimator."""
    entry = get_entry(model_name)
    if entry.paradigm != "bottomup":
        raise ValueError(f"model '{model_name}' is {entry.paradigm}, not bottom-up")
    kset = get_keypoint_set(keypoint_set or entry.keypoint_set)
    size = entry.check_input_size(input_size or entry.input_size)
    codec_params = dict(entry.codec)
    codec_params.update(codec or {})
    loss_params = codec_params.pop("loss", None)
    is_simplepose = codec_params["name"] == "simplepose"
    if loss_params is not None and not is_simplepose:
        raise ValueError(f"codec params 'loss': only the simplepose codec takes loss settings, "
                         f"not '{codec_params['name']}'")
    set_args = {"keypoint_set": kset} if is_simplepose else {}  # its layout (limbs) follows the set itself
    codec_obj = build_codec(codec_params.pop("name"), input_size=size, num_keypoints=kset.num_keypoints,
                            **set_args, **codec_params)
    model = entry.build(kset, size, **(model_params or {}))
    if is_simplepose:
        from posekit.estimators.simplepose import SimplePoseEstimator, focal_l2_config
        return SimplePoseEstimator(model, codec_obj, kset, focal_l2_config(loss_params))
    return BottomUpEstimator(model, codec_obj, kset, test_scales=test_scales)
