"""Loss and metric curves from metrics.jsonl, drawn to a PNG with matplotlib's Agg canvas
(no pyplot, so no global backend is changed and no display is needed)."""
from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file, in order; blank lines skipped."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_curves(metrics_path: str | Path, png_path: str | Path, max_metrics: int = 8) -> None:
    """Write a 1000x400 PNG: training losses by iteration (left), up to `max_metrics` validation
    metrics by epoch (right); replaced atomically so a viewer never reads a partial file."""
    rows = read_metrics(metrics_path)
    train = [r for r in rows if r.get("type") == "train"]
    epochs = [r for r in rows if r.get("type") == "epoch"]
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_val = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.92, wspace=0.2)  # fixed: tight_layout costs a draw
    _plot_losses(ax_loss, train, epochs)
    _plot_metrics(ax_val, epochs, max_metrics)
    tmp = Path(png_path).with_name(f".{Path(png_path).name}.tmp.png")
    fig.savefig(tmp)
    tmp.replace(png_path)


def _plot_losses(ax, train: list[dict], epochs: list[dict]) -> None:
    """Logged iterations as lines, and each epoch's mean training loss as dots at the epoch's end,
    so short runs (fewer iterations than the log interval) still show a curve."""
    loss_keys = list(dict.fromkeys(k for r in train for k in r if k.startswith("loss")))
    for key in loss_keys:
        pts = [(r["iteration"], r[key]) for r in train if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, linewidth=1)
    pts = [(r["iteration"], r["train/loss"]) for r in epochs if "train/loss" in r]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "ko-", markersize=4, label="epoch mean loss")
    ax.set(xlabel="iteration", ylabel="loss", title="training loss")
    if loss_keys or pts:
        ax.legend(fontsize=7)


def _plot_metrics(ax, epochs: list[dict], max_metrics: int) -> None:
    """Validation metrics that are fractions (AP, PCK, ...), in the evaluator's order, the first
    (the headline metric) drawn thick; counts and other scales are left to metrics.jsonl."""
    keys = list(dict.fromkeys(k[4:] for r in epochs for k in r if k.startswith("val/")))
    fractions = [k for k in keys
                 if all(0.0 <= r[f"val/{k}"] <= 1.0 for r in epochs if isinstance(r.get(f"val/{k}"), (int, float)))]
    for i, key in enumerate(fractions[:max_metrics]):
        pts = [(r["epoch"] + 1, r[f"val/{key}"]) for r in epochs if f"val/{key}" in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=key,
                linewidth=2.5 if i == 0 else 1, markersize=5 if i == 0 else 3)
    ax.set(xlabel="epoch", ylabel="metric", title="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if fractions:
        ax.legend(fontsize=7)
