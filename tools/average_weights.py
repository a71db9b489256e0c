"""Average the weights of several snapshots of one network into a checkpoint (a uniform "model soup").

Consecutive stages of the default model are cosine cycles that each end in a nearby minimum; their
plain average often sits in a flatter, better point than any one of them (stochastic weight averaging,
Izmailov et al. 2018; model soups, Wortsman et al. 2022). Inputs are posekit training checkpoints or
model files (fp16 weights are averaged in fp32); all must hold the same keys and shapes. The output is
a weights-only checkpoint with the `--template` checkpoint's experiment config (the last checkpoint input
by default), so `load_experiment`, `benchmarks/checkpoint_pck.py`, packing and `model.pretrained` read
it; it holds no training state and cannot be resumed.

Averaging BatchNorm's running statistics is only an approximation of the statistics the averaged
weights produce; `--precise-bn N` recomputes them over N batches of the template's training data with
its augmentation (the engine's `train.precise_bn_batches`), as SWA does.

    .venv/bin/python tools/average_weights.py A.pt B.pt C.pt --out runs/soup/last.pt [--precise-bn 200]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch



def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The deliverable network's state dict of a checkpoint or model file, floats as fp32."""
    from posekit.inference.model_file import is_model_file
    from posekit.models.safe_load import load_weights_only
    state = load_weights_only(Path(path), "checkpoint or model file")
    if is_model_file(state):
        weights = state["weights"]
    elif isinstance(state, dict) and isinstance(state.get("estimator"), dict):
        weights = state["estimator"]
    else:
        raise ValueError(f"{path}: neither a posekit model file nor a training checkpoint (no weights found)")
    return {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}


def is_checkpoint(path: str | Path) -> bool:
    """True for a posekit training checkpoint (it has the 'strategy' entry), False for a model file."""
    from posekit.models.safe_load import load_weights_only
    state = load_weights_only(Path(path), "checkpoint or model file")
    return isinstance(state, dict) and "strategy" in state


def average(paths: list[str | Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the floating-point tensors of every input; integer buffers (BatchNorm's
    batch counter) are taken from the first. ValueError naming the file whose keys or shapes differ."""
    if not paths:
        raise ValueError("nothing to average: give at least one checkpoint or model file")
    first = read_weights(paths[0])
    total = {k: v.clone() for k, v in first.items()}
    for path in paths[1:]:
        weights = read_weights(path)
        if weights.keys() != first.keys():
            extra, missing = sorted(weights.keys() - first.keys()), sorted(first.keys() - weights.keys())
            raise ValueError(f"{path}: its weights do not match {paths[0]}'s "
                             f"(extra {extra[:3]}, missing {missing[:3]})")
        for k, v in weights.items():
            if v.shape != first[k].shape:
                raise ValueError(f"{path}: '{k}' has shape {tuple(v.shape)}, {paths[0]} {tuple(first[k].shape)}")
            if v.is_floating_point():
                total[k] += v
    return {k: v / len(paths) if v.is_floating_point() else v for k, v in total.items()}


def soup_checkpoint(template: dict, weights: dict[str, torch.Tensor], sources: list[str]) -> dict:
    """A weights-only checkpoint (as `posekit convert` writes: no training state to resume, so no
    optimizer, EMA or strategy state that would disagree with the mean) carrying `weights` and the
    experiment config, network record and iteration count of `template`, a loaded training checkpoint."""
    metadata = {k: v for k, v in template.get("metadata", {}).items() if k in ("experiment", "networks")}
    out = {"strategy": {}, "estimator": weights, "iteration": int(template.get("iteration", 0)),
           "metadata": {**metadata, "averaged_from": [str(s) for s in sources]}}
    if template.get("estimator_name"):  # which network of a multi-network run the weights are
        out["estimator_name"] = template["estimator_name"]
    return out


def recompute_statistics(checkpoint: Path, batches: int) -> None:
    """Recompute the BatchNorm statistics of `checkpoint`'s network over `batches` seeded batches of its
    config's training data, augmented as in training, and write them back into the file."""
    from posekit.experiment import build_dataset, load_experiment, load_split
    from posekit.training.checkpoint import load_checkpoint, save_checkpoint
    from posekit.training.precise_bn import recompute_batchnorm
    cfg, estimator = load_experiment(checkpoint)
    dataset = build_dataset(cfg, load_split(cfg, "train"), estimator.codec, train=True)
    size = cfg.data.batch_size
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(cfg.train.seed))
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, order[:batches * size].tolist()),
                                         batch_size=size, num_workers=cfg.data.workers)
    used = recompute_batchnorm([estimator], (batch["image"] for batch in loader))
    state = load_checkpoint(checkpoint)
    weights = {k: v.detach().clone() for k, v in estimator.state_dict().items()}
    state = soup_checkpoint(state, weights, state["metadata"]["averaged_from"])
    state["metadata"]["precise_bn_batches"] = used
    save_checkpoint(state, checkpoint)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="training checkpoints or model files of one network")
    p.add_argument("--out", required=True)
    p.add_argument("--template", help="the training checkpoint whose config the output carries "
                                      "(default: the last input that is a training checkpoint)")
    p.add_argument("--precise-bn", type=int, default=0, metavar="N",
                   help="recompute BatchNorm statistics over N training batches (0: keep the averaged ones)")
    args = p.parse_args()
    from posekit.training.checkpoint import load_checkpoint, save_checkpoint
    try:
        template_path = args.template or next((p for p in reversed(args.inputs) if is_checkpoint(p)), None)
        if template_path is None:
            raise ValueError("no input is a training checkpoint: name one with --template for the config")
        state = soup_checkpoint(load_checkpoint(template_path), average(args.inputs), args.inputs)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(state, out)
        if args.precise_bn > 0:
            recompute_statistics(out, args.precise_bn)
    except (ValueError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")
    print(f"wrote {out}: the mean of {len(args.inputs)} snapshots"
          + (f", BatchNorm statistics over {args.precise_bn} batches" if args.precise_bn > 0 else ""))


if __name__ == "__main__":
    main()
