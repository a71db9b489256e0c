"""Read .pt/.pth files without running anything they contain.

Every posekit path loads with torch.load(weights_only=True): tensors, numbers, strings, lists and
dicts only; a pickled function or object is refused, never imported or called. MMEngine's runner
checkpoints (epoch_N.pth, best_*.pth) also pickle mmengine, numpy and mmcv objects in `message_hub`,
`meta` and the like, which a weights-only load refuses. `load_runner_checkpoint` reads those through an
allow-list of module namespaces (and builtins.getattr: PLACEHOLDER_NAMES) whose objects become inert
placeholders (nothing imported, no constructor or __setstate__ of theirs run); posekit reads only the
tensors of `state_dict` from such a file. A reference to anything outside the allow-list (other
builtins, os, subprocess, a user's own module) is refused with the global's name. A file that is
neither a zip nor a pickle (an ONNX model, a photo) is named for what it is before torch reads it.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch

# Module namespaces of the objects MMEngine/MMPose runner checkpoints pickle beside the weights:
# message_hub's HistoryBuffer, numpy arrays and scalars in meta/dataset_meta/runtime_info (numpy
# pickles their bytes through _codecs.encode), mmcv/mmdet/mmpose config objects; the loss scaler an
# official HigherHRNet FP16 run pickles into checkpoint.pth.tar's optimizer entry (its lib/fp16_utils).
PLACEHOLDER_NAMESPACES = ("mmengine.", "mmcv.", "mmdet.", "mmpose.", "numpy.", "_codecs.", "collections.",
                          "fp16_utils.")
# Single globals allowed beside those namespaces. MMEngine's HistoryBuffer keeps its statistics methods
# (HistoryBuffer.min, .max, .current, .mean) in the instance, and pickle protocol 2 (torch.save's)
# writes each as getattr(HistoryBuffer, "min"), so every runner checkpoint's message_hub references
# builtins.getattr. Like the rest it becomes a Placeholder: the real getattr is never called.
PLACEHOLDER_NAMES = ("builtins.getattr",)

# First bytes of what torch.load reads: torch.save's zip, or its legacy pickle (protocol 2+ opens with PROTO).
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = b"\x80"
# Files people pass by mistake, named in the error instead of torch's unpickling report.
IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
               (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
IMAGE_SUFFIXES = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".gif": "GIF", ".bmp": "BMP", ".webp": "WebP",
                  ".tif": "TIFF", ".tiff": "TIFF"}
# Protobuf tags of ModelProto fields after ir_version: producer_name/version, domain, model_version,
# doc_string, graph, opset_import.
ONNX_SECOND_FIELD = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42}


class Placeholder:
    """Stands in for an allow-listed object in a checkpoint: accepts any arguments and state, keeps
    nothing and runs nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "Placeholder":
        """A bare instance, whatever arguments the unpickler passes."""
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return "<placeholder for a non-tensor object>"


def load_error_reason(exc: BaseException) -> str:
    """One line saying why torch.load refused or failed on a file (torch's own text spans many lines)."""
    text = str(exc)
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return (f"it references {found.group(1)}, which a weights-only load refuses "
                "(pickled code or objects are never run)")
    found = re.search(r"GLOBAL (\S+) whose module \S+ is blocked", text)
    if found:
        return f"it references {found.group(1)}, which a weights-only load refuses (pickled code is never run)"
    found = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)  # torch puts the reason after a blank line
    # torch's preamble advises weights_only=False, i.e. running the file's code: never relay it.
    lines = [line.strip() for line in text.splitlines() if line.strip() and "weights_only" not in line]
    reason = found.group(1).strip() if found else (lines[0] if lines else type(exc).__name__)
    return reason[:300]


def _image_kind(head: bytes, suffix: str) -> str | None:
    """The image format the first bytes (or, failing them, the suffix) name; None for a non-image."""
    for magic, kind in IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return IMAGE_SUFFIXES.get(suffix)


def _looks_onnx(head: bytes) -> bool:
    """An ONNX ModelProto opens with field 1 (ir_version, a small varint) then another of its fields."""
    return len(head) >= 3 and head[0] == 0x08 and 0 < head[1] < 0x80 and head[2] in ONNX_SECOND_FIELD


def _describe(head: bytes, suffix: str) -> str:
    """What a file torch.save cannot have written is, for the error naming it."""
    if not head:
        return "the file is empty"
    if suffix == ".onnx" or _looks_onnx(head):
        return "an ONNX file: run it with posekit.runtime.load"
    kind = _image_kind(head, suffix)
    if kind:
        return f"a {kind} image, not a model"
    return "torch.save writes a zip or a pickle; this file is neither"


def check_format(path: str | Path, what: str = "checkpoint") -> None:
    """FileNotFoundError, or a one-line ValueError saying what the file is when its first bytes are
    neither a zip (torch.save's default) nor a pickle (its legacy format). torch.load's own error
    for such a file advises weights_only=False, which would run pickled code and still fail."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(ZIP_MAGIC) or head[:1] == PICKLE_PROTO:
        return
    raise ValueError(f"{path}: not a {what} ({_describe(head, path.suffix.lower())})")


def _load(path: Path) -> Any:
    with warnings.catch_warnings():
        # torch warns on stderr about files it then refuses (an odd pickle protocol); the error says it all.
        warnings.simplefilter("ignore")
        return torch.load(path, map_location="cpu", weights_only=True)


def load_weights_only(path: str | Path, what: str = "checkpoint") -> Any:
    """torch.load(weights_only=True) on CPU; FileNotFoundError or a one-line ValueError naming the file."""
    path = Path(path)
    check_format(path, what)
    try:
        return _load(path)
    except Exception as exc:  # torch raises several types for a truncated, foreign or unsafe file
        raise ValueError(f"{path}: not a readable {what}: {load_error_reason(exc)}") from None


def _allowed(name: str) -> bool:
    return name.startswith(PLACEHOLDER_NAMESPACES) or name in PLACEHOLDER_NAMES


def _refuse(path: Path, names: list[str]) -> ValueError:
    return ValueError(f"{path}: refusing to load: it references {', '.join(names[:3])}, which a checkpoint "
                      "never needs (pickled code or objects are never run)")


def load_runner_checkpoint(path: str | Path, what: str = "checkpoint") -> Any:
    """Like load_weights_only, and an MMEngine runner checkpoint's allow-listed non-tensor objects
    load as Placeholder instances (see the module docstring).

    The globals are read from the pickle without running it (zip files, torch.save's default), or,
    in the legacy non-zip format (which MMPose's publish_model.py writes, and which torch cannot list
    statically), one at a time from the weights-only loader's refusals, each allowed one as a
    Placeholder, until the file loads or a global outside the allow-list is met."""
    path = Path(path)
    check_format(path, what)  # an ONNX file or a photo is named as such, not unpickled twice
    try:
        return load_weights_only(path, what)
    except ValueError as exc:  # refused or unreadable: a runner checkpoint's globals may be allowed
        first_error = exc
    try:
        unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))  # reads the pickle, runs nothing
    except Exception:  # not a zip checkpoint: learn its globals from the loader's refusals below
        unsafe = set()
    while True:
        refused = sorted(name for name in unsafe if not _allowed(name))
        if refused:
            raise _refuse(path, refused)
        try:
            with torch.serialization.safe_globals([(Placeholder, name) for name in sorted(unsafe)]):
                return _load(path)
        except Exception as exc:
            found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
            if found and found.group(1) not in unsafe:
                unsafe.add(found.group(1))
                continue
            if not unsafe:  # no global refused: the weights-only error is the answer
                raise first_error from None
            raise ValueError(f"{path}: not a readable {what}: {load_error_reason(exc)}") from None
