"""Loss and metric curves from metrics.jsonl, drawn to a PNG with matplotlib's Agg canvas
(no pyplot, so no global backend is changed and no display is needed)."""
from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def read_metrics(path: str | Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_curves(metrics_path: str | Path, png_path: str | Path) -> None:
    rows = read_metrics(metrics_path)
    train = [r for r in rows if r.get("type") == "train"]
    epochs = [r for r in rows if r.get("type") == "epoch"]
    val_keys = sorted({k[4:] for r in epochs for k in r if k.startswith("val/")})
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_val = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.92, wspace=0.2)  # fixed: tight_layout costs a draw
    loss_keys = sorted({k for r in train for k in r if k == "loss" or k.startswith("loss")})
    for key in loss_keys:
        pts = [(r["iteration"], r[key]) for r in train if key in r]
        ax_loss.plot([p[0] for p in pts], [p[1] for p in pts], label=key)
    ax_loss.set(xlabel="iteration", ylabel="loss", title="training loss")
    if loss_keys:
        ax_loss.legend(fontsize=7)
    for key in val_keys:
        pts = [(r["epoch"], r[f"val/{key}"]) for r in epochs if f"val/{key}" in r]
        ax_val.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=key)
    ax_val.set(xlabel="epoch", ylabel="metric", title="validation")
    ax_val.xaxis.set_major_locator(MaxNLocator(integer=True))
    if val_keys:
        ax_val.legend(fontsize=7)
    tmp = Path(png_path).with_name(f".{Path(png_path).name}.tmp.png")
    fig.savefig(tmp)
    tmp.replace(png_path)
