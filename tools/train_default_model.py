"""Reproduce the shipped default model: data, training, packing, scores.

    .venv/bin/python tools/train_default_model.py                 # everything (resumes a killed run)
    .venv/bin/python tools/train_default_model.py --pack-only     # pack runs/default_model/train/best.pt

1. writes the data files configs/default_model.yaml names (tools/default_model_data.py);
2. trains with `posekit train configs/default_model.yaml` semantics (exact resume from last.pt);
   `--init` starts from an earlier model file instead of from scratch (a longer run in steps);
3. packs the best checkpoint (EMA weights, selected on LSPET 7,001-8,000) into
   src/posekit/weights/default_body.pt in fp16, with its config and scores;
4. scores the packed file as users run it (whole image, letterboxed) with benchmarks/peers_lsp.py's
   scorer on LSP test and LSPET 7,001-8,000, and stores the scores in the file (`posekit models`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tools"))


def pack(checkpoint: Path, out: Path, data_root: Path) -> dict:
    import peers_lsp

    from posekit.experiment import load_experiment
    from posekit.inference.model_file import model_file_state, save_model_file
    from posekit.models.zoo import get_entry
    from posekit.training.checkpoint import load_checkpoint

    cfg, estimator = load_experiment(checkpoint)
    codec = {**get_entry(cfg.model.name).codec, **cfg.codec.params}
    state = load_checkpoint(checkpoint)
    info = {"trained_on": "LSP train (1-1000) + LSPET 1-7000, whole image as the box",
            "selected_on": "LSPET 7001-8000", "config": "configs/default_model.yaml",
            "command": "python tools/train_default_model.py", "epochs": int(state.get("epoch", 0)),
            "best_metric": float(state.get("best_metric", float("nan")))}
    save_model_file(model_file_state(estimator, cfg.model.name, cfg.data.input_size, cfg.data.augment.bbox_padding,
                                     codec, cfg.model.params, info), out)
    scores = {}
    for name, (paths, gt) in peers_lsp.test_sets(0).items():
        pred, _ = peers_lsp.run_posekit(paths, model=str(out))
        scores[name] = round(peers_lsp.score(pred, gt)["total"], 4)
        print(f"{name}: PCK@0.2 (12 limb joints, whole image) {scores[name]:.3f}")
    info["pck_limbs"] = scores
    save_model_file(model_file_state(estimator, cfg.model.name, cfg.data.input_size, cfg.data.augment.bbox_padding,
                                     codec, cfg.model.params, info), out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--config", default=str(REPO / "configs" / "default_model.yaml"))
    p.add_argument("--init", help="a model file or checkpoint to start from (model.pretrained)")
    p.add_argument("--pack-only", action="store_true")
    p.add_argument("--out", default=str(REPO / "src" / "posekit" / "weights" / "default_body.pt"))
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = p.parse_args()
    from default_model_data import prepare

    from posekit import experiment
    from posekit.config import load_config

    data_root = Path(args.data).resolve()
    overrides = list(args.overrides) + [f"data.train_images={data_root}", f"data.val_images={data_root}"]
    if args.init:
        overrides.append(f"model.pretrained={args.init}")
    cfg = load_config(args.config, overrides)
    if not args.pack_only:
        prepare(data_root, Path(cfg.data.train).parent)
        experiment.train(cfg, resume="auto")
    pack(Path(cfg.out_dir) / "best.pt", Path(args.out), data_root)


if __name__ == "__main__":
    main()
