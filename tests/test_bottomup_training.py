"""Both bottom-up methods train through the one engine (`posekit train`), validate with OKS AP, and
their checkpoints load in `posekit eval`; SimplePoseEstimator's loss and predict wiring on
hand-made outputs."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.cli import main
from posekit.estimators.bottomup import build_bottomup_estimator
from posekit.estimators.simplepose import SimplePoseEstimator

REPO = Path(__file__).resolve().parents[1]
# No augmentation: every epoch sees the same batch, so the loss must fall.
STILL = ["data.augment.flip=0.0", "data.augment.scale=[1.0,1.0]", "data.augment.rotation=0.0",
         "data.augment.translate=0.0"]
TINY = ["data.max_train_samples=2", "data.max_val_samples=2", "data.batch_size=2", "data.workers=0",
        "train.epochs=3", "train.max_iters_per_epoch=1", "train.val_interval=3", "train.warmup_iters=0",
        "train.optimizer=adam", "train.lr=0.002", "train.weight_decay=0.0", "train.schedule=constant", *STILL]
METHODS = {
    "higherhrnet": ("higherhrnet-w32_coco-512.yaml", ["data.input_size=[128,128]", "model.params={width: 8}"]),
    "simplepose": ("simplepose-imhn_coco-512.yaml",
                   ["data.input_size=[128,128]", "model.name=simplepose-imhn-s",
                    "model.params={nstack: 1, width: 32, increase: 16, stem_first: 16}"]),
}


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_train_validate_and_eval_through_the_cli(method, coco_subset, tmp_path, capsys):
    config, model = METHODS[method]
    gt = coco_subset / "person_keypoints_merged.json"
    data = [f"data.train={gt}", f"data.train_images={coco_subset / 'images'}", f"data.val={gt}",
            f"data.val_images={coco_subset / 'images'}"]
    out = tmp_path / "run"
    assert main(["train", str(REPO / "configs" / config), *data, *TINY, *model, f"out_dir={out}", "--json"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["type"] == "epoch"]
    losses = [r["train/loss"] for r in epochs]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert "val/AP" in epochs[-1] and 0.0 <= epochs[-1]["val/AP"] <= 1.0
    assert (out / "best.pt").is_file()
    capsys.readouterr()
    assert main(["eval", str(out / "config.yaml"), "--checkpoint", str(out / "best.pt"), "--json"]) == 0
    metrics = last_json(capsys)
    assert {"AP", "AP50", "AP75", "AR"} <= set(metrics)
    # One validation (the last epoch) made best.pt; eval of it repeats the engine's validation.
    assert metrics["AP"] == pytest.approx(epochs[-1]["val/AP"]) and metrics["AR"] == pytest.approx(epochs[-1]["val/AR"])


# ------------------------------------------------------------------ SimplePoseEstimator on fake outputs
class Constant(torch.nn.Module):
    def __init__(self, outputs: list[list[torch.Tensor]]):
        super().__init__()
        self.outputs = outputs

    def forward(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        return self.outputs


class FixedOutputs(torch.nn.Module):
    """Returns given maps for a given image and other maps for its mirror image."""

    def __init__(self, image: torch.Tensor, maps: list[torch.Tensor], mirrored: list[torch.Tensor]):
        super().__init__()
        self.image, self.maps, self.mirrored = image, maps, mirrored

    def forward(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        if torch.equal(images, self.image):
            return [self.maps]
        assert torch.equal(images, self.image.flip(-1))
        return [self.mirrored]


def pyramid(targets: np.ndarray, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    t = torch.from_numpy(targets)[None]
    return [F.adaptive_avg_pool2d(t, (h, w)) for w, h in sizes]


def simplepose(size: int = 128) -> SimplePoseEstimator:
    estimator = build_bottomup_estimator("simplepose-imhn-s", input_size=(size, size),
                                         model_params={"nstack": 1, "width": 32, "increase": 16, "stem_first": 16})
    assert isinstance(estimator, SimplePoseEstimator)
    return estimator


def person(cx: float, top: float) -> np.ndarray:
    """A standing COCO-17 person (input pixels), every keypoint visible."""
    offsets = [(0, 0), (-3, -3), (3, -3), (-6, -1), (6, -1), (-12, 14), (12, 14), (-16, 30), (16, 30),
               (-18, 44), (18, 44), (-8, 46), (8, 46), (-8, 68), (8, 68), (-8, 90), (8, 90)]
    return np.array([(cx + dx, top + dy) for dx, dy in offsets], np.float64)


def test_simplepose_predict_recovers_poses_in_original_pixels_with_flip():
    estimator = simplepose()
    codec, kset = estimator.codec, estimator.keypoint_set
    keypoints = person(60.0, 20.0)[None]
    visible = np.ones(keypoints.shape[:2], bool)
    # The mirror image's maps are encoded from mirrored keypoints (x -> W - 1 - x, left/right swapped),
    # independently of the codec's flip_maps that predict must use to undo them.
    mirrored = keypoints[:, kset.flip_index].copy()
    mirrored[..., 0] = 128 - 1 - mirrored[..., 0]
    image = torch.randn(1, 3, 128, 128)
    estimator.model = FixedOutputs(image, pyramid(codec.ideal_outputs(keypoints, visible)[0], codec.output_sizes),
                                   pyramid(codec.ideal_outputs(mirrored, visible)[0], codec.output_sizes))
    # original image -> input: scale 0.5, shift (10, 4); so original = (input - shift) * 2
    warp = np.array([[[0.5, 0.0, 10.0], [0.0, 0.5, 4.0]]])
    for flip in (False, True):
        (poses,) = estimator.predict({"image": image, "warp": torch.from_numpy(warp), "image_id": torch.tensor([7])},
                                     flip_test=flip)
        assert len(poses) == 1 and poses[0]["image_id"] == 7
        expected = (keypoints[0] - [10.0, 4.0]) * 2
        np.testing.assert_allclose(poses[0]["keypoints"][:, :2], expected, atol=2.5)
        assert poses[0]["keypoints"].shape == (17, 3) and poses[0]["score"] > 0


def test_simplepose_loss_is_zero_for_perfect_outputs_and_respects_masks():
    estimator = simplepose()
    codec = estimator.codec
    keypoints = person(60.0, 20.0)[None]
    targets = codec.encode(keypoints, np.ones((1, 17), bool))["targets"]
    perfect = pyramid(targets, codec.output_sizes)
    ones = [torch.ones(1, h, w) for w, h in codec.output_sizes]
    zeros = [torch.zeros(1, h, w) for w, h in codec.output_sizes]
    batch = {"image": torch.zeros(1, 3, 128, 128), "targets": torch.from_numpy(targets)[None], "masks": ones}
    estimator.model = Constant([perfect])
    assert float(estimator.loss(batch)["loss"]) == pytest.approx(0.0, abs=1e-10)
    estimator.model = Constant([[torch.zeros_like(p) for p in perfect]])
    assert float(estimator.loss(batch)["loss"]) > 0.1
    assert float(estimator.loss({**batch, "masks": zeros})["loss"]) == 0.0
    with pytest.raises(ValueError, match="masks"):
        estimator.loss({**batch, "masks": ones[:2]})


def test_loss_settings_come_from_loss_params_and_unknown_keys_fail():
    estimator = build_bottomup_estimator("simplepose-imhn-s", input_size=(128, 128),
                                         loss={"gamma": 2.0, "focal": False},
                                         model_params={"nstack": 1, "width": 32, "increase": 16, "stem_first": 16})
    assert estimator.loss_fn.focal_l2.gamma == 2.0 and estimator.loss_fn.focal_l2.focal is False
    with pytest.raises(ValueError, match="loss.params.gama"):
        build_bottomup_estimator("simplepose-imhn-s", input_size=(128, 128), loss={"gama": 2.0})
    # HigherHRNet's loss (the associative-embedding codec's default) has no gamma
    with pytest.raises(ValueError, match="loss.params.gamma': unknown; known keys: heatmap_factors"):
        build_bottomup_estimator("higherhrnet-w32", input_size=(128, 128), loss={"gamma": 2.0},
                                 model_params={"width": 8})
