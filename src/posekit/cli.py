"""`posekit <verb>`: thin. Parses, calls the library, prints."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# Before torch loads OpenMP (the verbs import it lazily): idle OpenMP threads sleep rather than spin,
# which on shared or small CPU machines made eager PyTorch many times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Each verb is a module in posekit.commands with add_parser(subparsers) and run(args) -> int.
COMMANDS = (
    "models",
    "codec_check",
    "info",
    "score",
    "convert",
    "train",
    "eval",
    "predict",
    "detect",
    "demo",
    "export",
    "merge_distilled",
)


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The `posekit` parser with one subparser per module in COMMANDS (each sets `run`)."""
    parser = argparse.ArgumentParser(prog="posekit", description="2D human pose estimation: train, evaluate, run.")
    parser.add_argument("--version", action="version", version=f"posekit {importlib.import_module('posekit').__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"posekit.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one verb; the exit status: the verb's, 130 on Ctrl+C, 2 for an error (one line on stderr)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse ends a positional list at the first option, so `train CONFIG --resume a.b=1` would leave
    # a.b=1 unparsed: KEY=VALUE words anywhere after the verb are overrides.
    if extra:
        if hasattr(args, "overrides") and all("=" in word and not word.startswith("-") for word in extra):
            args.overrides = [*(args.overrides or []), *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `posekit ... | head`: the reader left; stop quietly, as Unix tools do
        try:  # Python flushes stdout at exit, which would fail on the closed pipe again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout without a file descriptor (captured): nothing to flush
            pass
        return 141
    except (CliError, ValueError, KeyError, OSError, RuntimeError) as exc:
        # Library errors carry messages that name the file or key; print that, not a traceback. OSError
        # (not only a missing file): a full disk or a folder without write permission names its path too.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"posekit {args.verb}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
