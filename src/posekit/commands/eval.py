"""`posekit eval CONFIG --checkpoint CKPT`: evaluate on the config's validation split."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json, resolve_device


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `eval` verb."""
    p = sub.add_parser("eval", help="evaluate a checkpoint on the config's validation data")
    p.add_argument("config", help="experiment YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--checkpoint", required=True, help="a posekit checkpoint (best.pt / last.pt)")
    p.add_argument("--network", default=None,
                   help="evaluate another network of a multi-network run instead of the deliverable "
                        "(e.g. teacher1, teacher2 of SSPCM; net2 of PoseDual)")
    p.add_argument("--no-flip", action="store_true", help="disable the flip test")
    p.add_argument("--results", help="also write the raw predictions as a COCO results JSON here")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict the validation split with the checkpoint and print one metric per line; returns 0."""
    import torch

    from posekit import experiment
    from posekit.data.convert import check_out_file
    device = torch.device(resolve_device(args.device))  # before any work
    if args.results:
        check_out_file(args.results, "--results")
    cfg, estimator = experiment.load_experiment(args.checkpoint, args.config, args.overrides, args.network)
    estimator.to(device)
    data = experiment.load_split(cfg, "val")
    loader = experiment.val_loader(cfg, experiment.build_dataset(cfg, data, estimator.codec, train=False))
    predictions = experiment.predict_all(estimator, loader, not args.no_flip, device)
    metrics = experiment.build_evaluator(data).evaluate(predictions)
    # Unreadable images get no prediction (they count as misses); say how many, always.
    metrics["skipped_images"] = float(predictions.skipped)
    if args.results:
        experiment.write_results(predictions, args.results)
    print_metrics(metrics)
    if args.json:
        emit_json(metrics)
    return 0


def print_metrics(metrics: dict[str, float]) -> None:
    """Print `name  value` lines, names aligned, floats to 4 decimals, None as '-'."""
    width = max(len(k) for k in metrics)
    for key, value in metrics.items():
        # None: a statistic with no ground truth to compute it on (APm without medium-sized persons).
        shown = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
