"""The semi-supervised and distillation benchmarks' own machinery: held-back labels in the unlabeled
views (scoring only), pseudo-label accuracy, equal iterations for a supervised baseline, and both
benchmarks' quick modes end to end with their `--report-only --json` line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.config import AugmentConfig, ConfigError, load_config
from posekit.data.datasets import IMAGENET_MEAN, IMAGENET_STD, UnlabeledDataset
from posekit.data.records import ImageRecord, Person, PoseData
from posekit.experiment import train
from posekit.keypoints import get_keypoint_set
from posekit.training.strategies.semi_common import PseudoLabelScore, torso_indices

REPO = Path(__file__).resolve().parents[1]
LSP = get_keypoint_set("lsp14")


def _image_with_dots(tmp_path, points, size=(120, 100)) -> str:
    """A black image with a 5x5 dot per point: the first red, the second blue (RGB)."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    for i, (x, y) in enumerate(points):
        image[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3, 2 * i] = 255
    path = str(tmp_path / "dots.png")
    cv2.imwrite(path, image[..., ::-1])
    return path


def _dot_centres(sample_image: torch.Tensor, count: int) -> dict[int, np.ndarray]:
    """Each dot's intensity-weighted centre in the view (channel 0 for dot 0, channel 2 for dot 1)."""
    rgb = (sample_image.permute(1, 2, 0).numpy() * IMAGENET_STD + IMAGENET_MEAN).clip(0, 255)
    ys, xs = np.mgrid[:rgb.shape[0], :rgb.shape[1]]
    return {i: np.array([(xs * rgb[..., 2 * i]).sum(), (ys * rgb[..., 2 * i]).sum()]) / rgb[..., 2 * i].sum()
            for i in range(count)}


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_held_back_labels_follow_the_easy_view(tmp_path, flip):
    # Two labelled joints (right and left shoulder) drawn as dots: keypoints_easy must sit on the dots
    # in the easy view, with left and right swapped when the view is mirrored.
    kp = np.zeros((14, 3), np.float32)
    rs, ls = LSP.names.index("right_shoulder"), LSP.names.index("left_shoulder")
    kp[rs] = (40, 50, 2)
    kp[ls] = (75, 55, 2)
    path = _image_with_dots(tmp_path, [kp[rs, :2], kp[ls, :2]])
    person = Person(id=1, keypoints=kp, bbox=np.array([30, 30, 60, 40], np.float32), area=2400.0)
    data = PoseData([ImageRecord(1, path, 120, 100, [person])], LSP, "dots")
    aug = AugmentConfig(flip=flip, scale=(1.0, 1.0), rotation=20.0, rotation_prob=1.0, hsv=False, blur=0.0,
                        coarse_dropout=0.0)
    s = UnlabeledDataset(data, (64, 64), augment=aug, seed=1)[0]
    got = s["keypoints_easy"].numpy()
    dots = _dot_centres(s["image_easy"], 2)  # dot 0 was drawn at the right shoulder, dot 1 at the left
    right_dot, left_dot = (dots[1], dots[0]) if flip else (dots[0], dots[1])
    np.testing.assert_allclose(got[rs, :2], right_dot, atol=1.0)
    np.testing.assert_allclose(got[ls, :2], left_dot, atol=1.0)
    assert got[rs, 2] == 1 and got[ls, 2] == 1 and got[:, 2].sum() == 2


def test_image_lists_carry_no_labels(tmp_path):
    path = _image_with_dots(tmp_path, [(50, 50)])
    assert "keypoints_easy" not in UnlabeledDataset([path], (64, 64))[0]


def test_pseudo_label_score_by_hand():
    score = PseudoLabelScore(torso_indices(LSP))
    rs, lh = torso_indices(LSP)
    gt = torch.zeros(2, 14, 3)
    gt[0, rs] = torch.tensor([10.0, 10.0, 1])
    gt[0, lh] = torch.tensor([10.0, 60.0, 1])   # torso 50 px: a hit is within 10 px
    gt[0, 0] = torch.tensor([30.0, 30.0, 1])
    gt[1, 0] = torch.tensor([5.0, 5.0, 1])      # no labelled torso: not counted
    peaks = gt[..., :2].clone()
    peaks[0, lh] += torch.tensor([0.0, 11.0])   # a miss
    peaks[0, 0] += torch.tensor([6.0, 8.0])     # 10 px: a hit (<=)
    kept = torch.zeros(2, 14, dtype=torch.bool)
    kept[0, rs] = kept[0, lh] = True
    score.add("pseudo", peaks, {"keypoints_easy": gt}, kept=kept)
    assert score.stats() == {"pseudo_pck/pseudo": pytest.approx(2 / 3), "pseudo_pck/pseudo_kept": pytest.approx(1 / 2)}
    score.add("pseudo", peaks, {})  # no held-back labels: nothing counted
    assert score.stats()["pseudo_pck/pseudo"] == pytest.approx(2 / 3)
    assert PseudoLabelScore(None).stats() == {}


def test_epoch_iters_sets_a_supervised_epoch(tmp_path, lsp_root):
    cfg = load_config(REPO / "configs" / "semi" / "lsp_base.yaml", [
        f"out_dir={tmp_path / 'run'}", f"data.train={lsp_root}", f"data.val={lsp_root}", "data.max_train_samples=4",
        "data.max_val_samples=4", "data.batch_size=2", "data.workers=0", "data.input_size=[32, 64]",
        "model.params={deconv_channels: 32}", "train.epochs=2", "train.steps=[]", "train.epoch_iters=5",
        "train.val_interval=0"])
    summary = train(cfg, resume=False, progress=False)
    assert summary["iterations"] == 10  # 4 samples at batch 2 would give 2 per epoch
    with pytest.raises(ConfigError, match="train.epoch_iters"):
        load_config(REPO / "configs" / "semi" / "lsp_base.yaml", ["train.epoch_iters=-1"])


def _run(args: list[str]) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_ssl_benchmark_quick_and_report(tmp_path, lsp_root, lspet_root):
    out = tmp_path / "ssl"
    _run(["benchmarks/ssl_lsp.py", "--quick", "--out", str(out), "--data", str(lsp_root.parent)])
    report = json.loads(_run(["benchmarks/ssl_lsp.py", "--report-only", "--json", "--out", str(out)]).splitlines()[-1])
    runs = report["runs"]
    assert set(runs) == {"supervised", "posedual", "sspcm", "sspcm_no_cut_occlude"}
    assert all(set(r) == {"lsp_test", "lspet_7001_8000"} and all(0 <= v <= 1 for v in r.values())
               for r in runs.values())
    # Read from the saved files, not retyped: the report is the runs' test.json.
    assert runs["sspcm"]["lsp_test"] == json.loads((out / "sspcm" / "test.json").read_text())["student"]["lsp_test"]
    # Every run started from the one supervised model, for the same iterations; pseudo-labels were scored.
    rows = {name: [json.loads(x) for x in (out / name / "metrics.jsonl").read_text().splitlines()]
            for name in runs}
    iterations = {name: [r for r in rows[name] if r["type"] == "epoch"][-1]["iteration"] for name in runs}
    assert len(set(iterations.values())) == 1
    sspcm_epoch = [r for r in rows["sspcm"] if r["type"] == "epoch"][-1]
    assert {"stats/masked_share", "stats/pseudo_pck/pseudo", "stats/pseudo_pck/t1"} <= set(sspcm_epoch)
    assert "stats/pseudo_pck/net1" in [r for r in rows["posedual"] if r["type"] == "epoch"][-1]
    split = json.loads((out / "setting.json").read_text())
    assert split["counts"]["labeled"] == 8 and split["labeled_from_lsp"] + split["labeled_from_lspet"] == 8


@pytest.mark.slow
def test_distill_benchmark_quick_and_report(tmp_path, lsp_root, lspet_root):
    out = tmp_path / "distill"
    _run(["benchmarks/distill_lsp.py", "--quick", "--out", str(out), "--lspet", str(lspet_root),
          f"data.train={lsp_root}", f"data.val={lsp_root}"])
    report = json.loads(_run(["benchmarks/distill_lsp.py", "--report-only", "--json", "--out", str(out)]).splitlines()[-1])
    assert set(report["runs"]) == {"student", "stage1", "stage2"}
    teacher = json.loads((out / "teacher" / "test.json").read_text())
    assert teacher["model"].startswith("rtmpose-t") and teacher["scores"]["lsp_test"] > 0.3  # the shipped model
    assert report["runs"]["stage1"] == json.loads((out / "stage1" / "test.json").read_text())["scores"]
    # One stage-1 variant beside those runs: its params reach the strategy, the report lists it after them.
    lines = _run(["benchmarks/distill_lsp.py", "--quick", "--out", str(out), "--lspet", str(lspet_root),
                  "--ablation", "logit_only", "--stage1", "feature_weight=0", f"data.train={lsp_root}",
                  f"data.val={lsp_root}"]).splitlines()
    assert lines[-1].startswith("| stage1_logit_only |")
    variant = out / "stage1_logit_only"
    assert json.loads((variant / "setting.json").read_text())["stage1"] == ["feature_weight=0"]
    epochs = [json.loads(x) for x in (variant / "metrics.jsonl").read_text().splitlines() if '"epoch"' in x]
    assert epochs and all(r["train/loss_fea"] == 0.0 and r["train/loss_logit"] > 0 for r in epochs if r["type"] == "epoch")
    again = json.loads(_run(["benchmarks/distill_lsp.py", "--report-only", "--json", "--out", str(out)]).splitlines()[-1])
    assert again == report  # the JSON keeps the three runs
