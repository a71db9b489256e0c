"""`posekit codec-check`: the OKS AP a bottom-up codec reaches from perfect network outputs."""
from __future__ import annotations

import argparse

from posekit.commands import emit_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `codec-check` verb."""
    p = sub.add_parser("codec-check", help="decode ideal outputs of the ground truth and score them (a codec's ceiling)")
    p.add_argument("codec", help="a bottom-up codec: associative_embedding or simplepose")
    p.add_argument("--gt", required=True, help="COCO keypoint annotation JSON")
    p.add_argument("--keypoint-set", default=None, help="keypoint set (inferred from the file's category when omitted)")
    p.add_argument("--input", type=int, default=512, help="input size of the short side (default 512)")
    p.add_argument("--max-images", type=int, default=None, help="only the first N images")
    p.add_argument("--out", default=None, help="write the decoded poses as a COCO results JSON here")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Encode the ground truth, decode it and print OKS AP/AR and decode speed; returns 0."""
    from posekit.inference.codec_check import codec_check
    report = codec_check(args.codec, args.gt, keypoint_set=args.keypoint_set, input_size=args.input,
                         max_images=args.max_images, results_path=args.out)
    if args.json:
        emit_json(report)
        return 0
    print(f"codec {report['codec']} on {report['gt']} ({report['images']} images, input {report['input']}, "
          f"{report['persons_decoded']} persons decoded)")
    for name in ("AP", "AP50", "AP75", "APm", "APl", "AR"):
        # None: no ground-truth person in that area range.
        print(f"  {name:<5} " + ("-" if report[name] is None else f"{report[name]:.4f}"))
    print(f"  decode {report['decode_images_per_s']:.1f} images/s")
    return 0
