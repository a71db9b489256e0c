"""`posekit score`: evaluate a COCO results file against COCO ground truth (of the same keypoint set, or
of another on the joints both name alike)."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `score` verb."""
    p = sub.add_parser("score", help="score COCO results against COCO ground truth (OKS AP, CrowdPose, "
                                     "whole-body per part, PCK)")
    p.add_argument("--gt", required=True, help="COCO keypoint annotation JSON")
    p.add_argument("--results", required=True, help="COCO results JSON (list of predictions)")
    p.add_argument("--keypoint-set", default=None, help="keypoint set name or file (default: inferred from the GT)")
    p.add_argument("--results-set", default=None, metavar="NAME",
                   help="keypoint set of the results when it is not the GT's (a built-in name, e.g. coco17, lsp14); "
                        "they are then scored on the joints both sets name alike")
    p.add_argument("--metric", default="auto", choices=("auto", "coco", "crowdpose", "wholebody", "pck"),
                   help="protocol (default: follows the keypoint set)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Score the results and print a table of the metric's statistics (one row per part for whole-body);
    returns 0."""
    from posekit.evaluation import score_files
    summary = score_files(args.gt, args.results, keypoint_set=args.keypoint_set, metric=args.metric,
                          results_set=args.results_set)
    print(f"{summary['results']} vs {summary['gt']}")
    print(f"keypoint set: {summary['keypoint_set']}   metric: {summary['metric']}")
    if summary["results_set"] != summary["keypoint_set"]:
        print(f"results' set: {summary['results_set']}; scored on the {len(summary['joints'])} joints both name: "
              f"{', '.join(summary['joints'])}")
    if summary["matched_by_file_name"]:
        print(f"results' image_ids are not the ground truth's: {summary['matched_by_file_name']} predictions "
              "matched to its images by file_name")
    if summary["metric"] != "pck" and summary["covered_images"] < summary["labelled_images"]:
        # (PCK says the same in its own last line.) Not an error: COCO's protocol scores every GT image,
        # but results for a part of a set read as a low AP unless this is said.
        print(f"note: the results predict on {summary['covered_images']} of the {summary['labelled_images']} "
              "ground-truth images with labelled persons; the persons of the others count as missed")
    stats = summary["stats"]
    if summary["metric"] == "wholebody":
        columns = list(stats["wholebody"])
        print(_row("part", columns))
        for part, part_stats in stats.items():
            print(_row(part, [_cell(part_stats[c]) for c in columns]))
    elif summary["metric"] == "pck":
        print("\n".join(_pck_lines(stats, summary["joints"])))
    else:
        shown = {k: v for k, v in stats.items() if k not in ("images", "predicted_images")}
        print(_row("", list(shown)))
        print(_row("", [_cell(v) for v in shown.values()]))
    if args.json:
        emit_json(summary)
    return 0


def _pck_lines(stats: dict, joints: list[str]) -> list[str]:
    """The group table, then each total named by the joints it counts: LSP's total includes the neck and
    head top, while posekit's docs and benchmarks quote the 12 limb joints."""
    from posekit.evaluation.pck import group_joints
    metric = next(k for k in stats if k.startswith("PCK"))
    groups = {k: v for k, v in stats.items() if k not in (metric, "total", "limbs", "images", "predicted_images")}
    counted = len(group_joints(joints)) or len(joints)  # no named group: the total is over all joints
    of = f"all {counted}" if counted == len(joints) else f"{counted} of {len(joints)}"
    totals = {f"{metric} total ({of} joints)": stats["total"]}
    if "limbs" in stats:
        totals[f"{metric} limbs (12 joints)"] = stats["limbs"]
    width = max(map(len, totals))
    return [_row("", list(groups)), _row("", [_cell(v) for v in groups.values()]),
            *(f"{label:<{width}}  {_cell(value)}" for label, value in totals.items()),
            f"{int(stats['predicted_images'])} of {int(stats['images'])} images have a prediction"]


def _cell(value: float | None) -> str:
    # None: the statistic has no ground truth to be computed on (APm without medium-sized persons).
    return "-" if value is None else f"{value:.3f}"


def _row(label: str, cells: list[str]) -> str:
    return f"{label:<10}" + "".join(f"{c:>9}" for c in cells)
