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


def read_inputs(paths: list[str | Path]) -> list[tuple[Path, dict]]:
    """(path, loaded state) of each input, each file read once, weights only; errors name the file."""
    from posekit.models.safe_load import load_weights_only
    return [(Path(p), load_weights_only(Path(p), "checkpoint or model file")) for p in paths]


def mean_weights(inputs: list[tuple[Path, dict]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the floating-point tensors of every input's network (in fp32); integer
    buffers (BatchNorm's batch counter) are taken from the first. ValueError naming the file that holds
    no network or whose keys or shapes differ from the first's."""
    from posekit.training.checkpoint import network_weights
    if not inputs:
        raise ValueError("nothing to average: give at least one checkpoint or model file")
    total: dict[str, torch.Tensor] = {}
    first = inputs[0][0]
    for path, state in inputs:
        weights = network_weights(state)
        if weights is None:
            raise ValueError(f"{path}: neither a posekit model file nor a training checkpoint (no weights found)")
        if not total:
            # copies: the sum must not write into the loaded inputs (one of them may be the template)
            total = {k: v.to(torch.float32, copy=True) if v.is_floating_point() else v.clone()
                     for k, v in weights.items()}
            continue
        if weights.keys() != total.keys():
            extra, missing = sorted(weights.keys() - total.keys()), sorted(total.keys() - weights.keys())
            raise ValueError(f"{path}: its weights do not match {first}'s (extra {extra[:3]}, missing {missing[:3]})")
        for k, v in weights.items():
            if v.shape != total[k].shape:
                raise ValueError(f"{path}: '{k}' has shape {tuple(v.shape)}, {first} {tuple(total[k].shape)}")
            if v.is_floating_point():
                total[k] += v.float()
    return {k: v / len(inputs) if v.is_floating_point() else v for k, v in total.items()}


def average(paths: list[str | Path]) -> dict[str, torch.Tensor]:
    """mean_weights of the files at `paths`."""
    return mean_weights(read_inputs(paths))


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
    state["estimator"] = {k: v.detach().clone() for k, v in estimator.state_dict().items()}
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
        inputs = read_inputs(args.inputs)
        template = (load_checkpoint(args.template) if args.template
                    else next((state for _, state in reversed(inputs) if "strategy" in state), None))
        if template is None:
            raise ValueError("no input is a training checkpoint: name one with --template for the config")
        state = soup_checkpoint(template, mean_weights(inputs), args.inputs)
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
