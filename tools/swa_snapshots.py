"""Train a config one epoch at a time and keep the weights after each epoch, for stochastic weight
averaging (Izmailov et al., 2018: the mean of the weights along a constant-lr run).

    .venv/bin/python tools/swa_snapshots.py configs/default_model_swa.yaml [KEY=VALUE ...]
    .venv/bin/python tools/average_weights.py runs/default_model/swa/snapshot_*.pt \
        --template runs/default_model/swa/last.pt --precise-bn 200 --out runs/default_model/swa_mean/last.pt

Epoch N is `posekit train CONFIG train.stop_epoch=N`, which resumes epoch N-1's last.pt exactly, so
the snapshots are those of one uninterrupted run of `train.epochs` epochs; OUT_DIR/last.pt is then
copied to OUT_DIR/snapshot_N.pt. Run again after a kill, it skips the epochs whose snapshot exists and
resumes the rest.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def snapshots(config: str, overrides: list[str]) -> list[Path]:
    """Train `config` (with `overrides`) epoch by epoch; return the snapshot paths, one per epoch."""
    from posekit.cli import main
    from posekit.config import ConfigError, load_config
    from posekit.training.checkpoint import load_checkpoint

    try:
        cfg = load_config(config, overrides)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"swa_snapshots: {exc}") from None
    out_dir = Path(cfg.out_dir)
    paths = []
    for epoch in range(1, cfg.train.epochs + 1):
        path = out_dir / f"snapshot_{epoch}.pt"
        if not path.is_file():
            if main(["train", config, *overrides, f"train.stop_epoch={epoch}"]) != 0:
                raise SystemExit(f"swa_snapshots: training epoch {epoch} of {config} failed (see above)")
            # last.pt past this epoch (a finished run whose snapshots were deleted) is not this epoch's
            reached = load_checkpoint(out_dir / "last.pt")["epoch"]
            if reached != epoch:
                raise SystemExit(f"swa_snapshots: {out_dir / 'last.pt'} is at epoch {reached}, not {epoch}; "
                                 "start the run afresh in an empty out_dir")
            shutil.copyfile(out_dir / "last.pt", path)
            print(f"snapshot of epoch {epoch}: {path}", flush=True)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="experiment config (its train.epochs is the number of snapshots)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, as for posekit train")
    args = p.parse_args(argv)
    snapshots(args.config, args.overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
