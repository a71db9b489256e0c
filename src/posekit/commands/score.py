"""`posekit score`: evaluate a COCO results file against COCO ground truth."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score COCO results against COCO ground truth (OKS AP, CrowdPose, "
                                     "whole-body per part, PCK)")
    p.add_argument("--gt", required=True, help="COCO keypoint annotation JSON")
    p.add_argument("--results", required=True, help="COCO results JSON (list of predictions)")
    p.add_argument("--keypoint-set", default=None, help="keypoint set name or file (default: inferred from the GT)")
    p.add_argument("--metric", default="auto", choices=("auto", "coco", "crowdpose", "wholebody", "pck"),
                   help="protocol (default: follows the keypoint set)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from posekit.evaluation import score_files
    summary = score_files(args.gt, args.results, keypoint_set=args.keypoint_set, metric=args.metric)
    print(f"{summary['results']} vs {summary['gt']}")
    print(f"keypoint set: {summary['keypoint_set']}   metric: {summary['metric']}")
    stats = summary["stats"]
    if summary["metric"] == "wholebody":
        columns = list(stats["wholebody"])
        print(_row("part", columns))
        for part, part_stats in stats.items():
            print(_row(part, [f"{part_stats[c]:.3f}" for c in columns]))
    else:
        shown = {k: v for k, v in stats.items() if k not in ("images", "predicted_images")}
        print(_row("", list(shown)))
        print(_row("", [f"{v:.3f}" for v in shown.values()]))
        if "images" in stats:
            print(f"{int(stats['predicted_images'])} of {int(stats['images'])} images have a prediction")
    if args.json:
        emit_json(summary)
    return 0


def _row(label: str, cells: list[str]) -> str:
    return f"{label:<10}" + "".join(f"{c:>9}" for c in cells)
