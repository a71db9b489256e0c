"""SSPCM's pseudo-labels on real unlabeled images, drawn from a trained SSPCM checkpoint.

For a few LSPET images (through the same unlabeled pipeline as training) it shows:
  1. the easy view with the two teachers' peaks (T1 circles, T2 crosses);
  2. the corrected pseudo-label's peaks, coloured by their inconsistency score (argmax distance of the
     most consistent teacher pair, heatmap pixels), masked keypoints (mean teacher peak < threshold) grey;
  3. the student's hard view after Cut-Occlude at the pseudo-label's peaks.

    python benchmarks/sspcm_figure.py --checkpoint runs/ssl_lsp/sspcm/last.pt --out docs/img/sspcm_pseudo_labels.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import default_collate  # noqa: E402

from posekit.config import ExperimentConfig, apply_overrides, from_dict  # noqa: E402
from posekit.data.cut_occlude import cut_occlude  # noqa: E402
from posekit.data.datasets import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from posekit.training.checkpoint import load_checkpoint  # noqa: E402
from posekit.training.heatmap_warp import warp_heatmaps  # noqa: E402
from posekit.training.strategies.semi_common import build_unlabeled_dataset, heatmap_peaks  # noqa: E402
from posekit.training.strategies.sspcm import SSPCMParams, build_sspcm  # noqa: E402


def to_rgb(image: torch.Tensor) -> np.ndarray:
    return np.clip(image.permute(1, 2, 0).numpy() * IMAGENET_STD + IMAGENET_MEAN, 0, 255).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="runs/ssl_lsp/sspcm/last.pt", help="an SSPCM training checkpoint")
    parser.add_argument("--out", default="docs/img/sspcm_pseudo_labels.png")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. strategy_params.unlabeled.path=...")
    args = parser.parse_args()

    state = load_checkpoint(args.checkpoint)
    experiment = state.get("metadata", {}).get("experiment")
    if experiment is None or experiment.get("strategy") != "sspcm":
        raise SystemExit(f"{args.checkpoint}: not a checkpoint of an SSPCM run")
    cfg = from_dict(ExperimentConfig, apply_overrides(experiment, args.overrides))
    strategy = build_sspcm(cfg, lambda: None)
    strategy.load_state_dict(state["strategy"])
    strategy.eval()
    params = from_dict(SSPCMParams, cfg.strategy_params, prefix="strategy_params")

    dataset = build_unlabeled_dataset(cfg, params)
    dataset.set_epoch(int(state["epoch"]))
    picks = np.random.default_rng(args.seed).choice(len(dataset), args.images, replace=False)
    batch = default_collate([dataset[int(i)] for i in picks])
    epoch = int(strategy.snapshot_epoch) + 1  # the epoch after the snapshot: correction is active
    with torch.no_grad():
        labels = strategy.pseudo_labels(batch["image_easy"], epoch)
        pseudo_hard = warp_heatmaps(labels["pseudo"], batch["affine"], strategy.stride)
        hard_peaks = strategy.to_input_pixels(heatmap_peaks(pseudo_hard)[0])
        generator = torch.Generator().manual_seed(args.seed)
        low, high = params.patch_half_size
        occluded = cut_occlude(batch["image_hard"], hard_peaks, params.occlusion_joints, (low, high),
                               params.jitter_sd, generator=generator)
    peaks = {name: strategy.to_input_pixels(heatmap_peaks(labels[name])[0]).numpy() for name in ("t1", "t2", "pseudo")}
    score, weight = labels["score"].numpy(), labels["weight"].numpy()

    fig, axes = plt.subplots(args.images, 3, figsize=(7.5, 3.0 * args.images), squeeze=False, layout="constrained")
    vmax = max(1.0, float(score.max()))
    for row in range(args.images):
        easy = to_rgb(batch["image_easy"][row])
        ax = axes[row, 0]
        ax.imshow(easy)
        ax.scatter(*peaks["t1"][row].T, s=18, facecolors="none", edgecolors="cyan", label="T1")
        ax.scatter(*peaks["t2"][row].T, s=18, marker="x", c="magenta", label="T2")
        ax = axes[row, 1]
        ax.imshow(easy)
        kept = weight[row] > 0
        points = ax.scatter(*peaks["pseudo"][row][kept].T, s=22, c=score[row][kept], cmap="viridis_r", vmin=0, vmax=vmax)
        ax.scatter(*peaks["pseudo"][row][~kept].T, s=22, c="lightgrey", marker="s")
        mean = f"mean score {score[row][kept].mean():.2f} px, " if kept.any() else ""
        ax.set_title(f"{mean}{int((~kept).sum())} of {len(kept)} masked", fontsize=8)
        axes[row, 2].imshow(to_rgb(occluded[row]))
        axes[row, 2].scatter(*hard_peaks[row].numpy().T, s=8, c="yellow")
    for ax, title in zip(axes[0], ("easy view: T1 (o), T2 (x) peaks", "pseudo-label peaks by score", "hard view + Cut-Occlude")):
        ax.set_title(title + ("\n" + ax.get_title() if ax.get_title() else ""), fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(points, ax=axes, location="right", shrink=0.3, label="inconsistency score (heatmap px)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} from {args.checkpoint} (snapshot of epoch {int(strategy.snapshot_epoch) + 1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
