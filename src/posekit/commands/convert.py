"""`posekit convert WHAT ...`: turn datasets (and other inputs) into posekit's formats."""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from posekit.commands import emit_json

# Sub-verbs of `posekit convert`: name -> "module:function", where the function adds the
# sub-verb's parser (and its run) to the subparsers it is given. Adding one is one line here.
SUBVERBS = {
    "lsp": "posekit.commands.convert:add_lsp",
    "lspet": "posekit.commands.convert:add_lspet",
    "mpii": "posekit.commands.convert:add_mpii",
    "semi-split": "posekit.commands.convert:add_semi_split",
    "checkpoint": "posekit.commands.convert_checkpoint:add_checkpoint",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `convert` verb and one sub-verb per SUBVERBS entry (imported here)."""
    p = sub.add_parser("convert", help="convert annotations to COCO keypoint JSON",
                       description="Convert a dataset's own annotation files to COCO keypoint JSON.")
    verbs = p.add_subparsers(dest="convert_what", metavar="WHAT")
    verbs.required = True
    for spec in SUBVERBS.values():
        module, function = spec.split(":")
        getattr(importlib.import_module(module), function)(verbs)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--relative-to", metavar="DIR",
                   help="write image paths relative to DIR (default: absolute paths)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")


def add_lsp(verbs: argparse._SubParsersAction) -> None:
    """Add `convert lsp ROOT OUT`."""
    p = verbs.add_parser(
        "lsp", help="Leeds Sports Pose -> OUT_train.json and OUT_test.json",
        description="Read ROOT/joints.mat and ROOT/images/ and write the standard split: "
                    "images 1-1000 to OUT_train.json, images 1001-2000 to OUT_test.json "
                    "(lsp14 keypoints; boxes from the joints, padded 10% each side).")
    p.add_argument("root", help="LSP folder holding joints.mat and images/")
    p.add_argument("out", help="output path OUT.json; _train/_test are added before the suffix")
    _common(p)
    p.set_defaults(run=run_lsp)


def add_lspet(verbs: argparse._SubParsersAction) -> None:
    """Add `convert lspet ROOT OUT [--limit N]`."""
    p = verbs.add_parser(
        "lspet", help="LSP Extended -> one COCO JSON",
        description="Read ROOT/joints.mat and the images present in ROOT/images/ and write one file "
                    "(lsp14 keypoints; unannotated joints v=0; boxes from the joints, padded 10% each side).")
    p.add_argument("root", help="LSPET folder holding joints.mat and images/")
    p.add_argument("out", help="output COCO JSON path")
    p.add_argument("--limit", type=int, help="read at most this many images")
    _common(p)
    p.set_defaults(run=run_lspet)


def add_mpii(verbs: argparse._SubParsersAction) -> None:
    """Add `convert mpii ANNOTATIONS OUT [--image-root DIR]`."""
    p = verbs.add_parser(
        "mpii", help="MPII (JSON list of person entries) -> one COCO JSON",
        description="Read MPII annotations in the common JSON form (image, joints, joints_vis, center, "
                    "scale) and write one file (mpii16; 0-based pixels; bbox = 200*scale square at center).")
    p.add_argument("annotations", help="MPII JSON file")
    p.add_argument("out", help="output COCO JSON path")
    p.add_argument("--image-root", help="image folder (default: images/ beside the JSON, else its folder)")
    _common(p)
    p.set_defaults(run=run_mpii)


def add_semi_split(verbs: argparse._SubParsersAction) -> None:
    """Add `convert semi-split ANNOTATIONS OUT --labeled N [--labeled M ...]`."""
    p = verbs.add_parser(
        "semi-split", help="COCO keypoints -> the semi-supervised papers' labeled and unlabeled pools",
        description="Write OUT_labeled{N}.json (the first N person instances with a keypoint, in the "
                    "official loader's order: images as listed, non-crowd, area > 0) and OUT_unlabeled.json "
                    "(every such instance, the labeled ones included), as PoseDual and SSPCM define "
                    "'1K/5K/10K labels'.")
    p.add_argument("annotations", help="COCO keypoint JSON, e.g. person_keypoints_train2017.json")
    p.add_argument("out", help="output prefix OUT.json")
    p.add_argument("--labeled", type=int, action="append", required=True,
                   help="instances in the labeled pool (repeat for several: --labeled 1000 --labeled 5000)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run_semi_split)


def run_semi_split(args: argparse.Namespace) -> int:
    """Write OUT_labeled{N}.json for each --labeled N and OUT_unlabeled.json, printing each file; returns 0.

    The unlabeled pool does not depend on N: it is rewritten, identical, once per N.
    """
    import json

    from posekit.data.convert import check_out_file
    from posekit.data.readers.coco_checks import check_coco_gt
    from posekit.data.readers.common import load_json
    from posekit.data.semi_split import semi_split
    out = Path(args.out)
    for tag in [*(f"labeled{n}" for n in args.labeled), "unlabeled"]:
        check_out_file(_with_suffix(out, tag))
    coco = load_json(Path(args.annotations))
    # The pools are read back as training data: the reader's checks, before any instance is counted.
    check_coco_gt(coco, args.annotations, reader=True)
    summaries = []
    for n in args.labeled:
        labeled, unlabeled = semi_split(coco, n, args.annotations)
        for tag, data in ((f"labeled{n}", labeled), ("unlabeled", unlabeled)):
            path = _with_suffix(out, tag)
            path.write_text(json.dumps(data))
            summaries.append({"file": str(path), "images": len(data["images"]), "instances": len(data["annotations"])})
            if not args.json:
                print(f"wrote {path}: {len(data['annotations'])} instances in {len(data['images'])} images")
    return _finish(args, summaries)


def _write(data, out: Path, args: argparse.Namespace) -> dict:
    from posekit.data.convert import write_coco
    write_coco(data, out, image_root=args.relative_to)
    persons = [p for r in data.records for p in r.persons]
    summary = {"file": str(out), "images": len(data.records), "persons": len(persons),
               "labelled_keypoints": int(sum(p.num_keypoints for p in persons))}
    if not args.json:
        print(f"wrote {out}: {summary['images']} images, {summary['persons']} persons, "
              f"{summary['labelled_keypoints']} labelled keypoints")
    return summary


def _finish(args: argparse.Namespace, summaries: list[dict]) -> int:
    if args.json:
        emit_json({"written": summaries})
    return 0


def _with_suffix(out: Path, tag: str) -> Path:
    return out.with_name(f"{out.stem}_{tag}{out.suffix or '.json'}")


def run_lsp(args: argparse.Namespace) -> int:
    """Write OUT_train.json and OUT_test.json, printing counts per file; returns 0."""
    from posekit.data.convert import check_out_file
    from posekit.data.readers import read_lsp
    out = Path(args.out)
    for split in ("train", "test"):
        check_out_file(_with_suffix(out, split))
    summaries = [_write(read_lsp(args.root, split), _with_suffix(out, split), args) for split in ("train", "test")]
    return _finish(args, summaries)


def run_lspet(args: argparse.Namespace) -> int:
    """Write one COCO JSON of LSP Extended and print its counts; returns 0."""
    from posekit.data.convert import check_out_file
    from posekit.data.readers import read_lspet
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    check_out_file(args.out)
    return _finish(args, [_write(read_lspet(args.root, limit=args.limit), Path(args.out), args)])


def run_mpii(args: argparse.Namespace) -> int:
    """Write one COCO JSON of the MPII annotations and print its counts; returns 0."""
    from posekit.data.convert import check_out_file
    from posekit.data.readers import read_mpii
    check_out_file(args.out)
    return _finish(args, [_write(read_mpii(args.annotations, args.image_root), Path(args.out), args)])
