"""What `posekit export` writes into an ONNX file's metadata_props, and reading it back.

The ONNX graph alone is image in, raw network outputs out; everything else a runtime needs (crop
size, box padding, codec, keypoint names and flip order) travels in the same file as string
key/value pairs, so an exported model is one self-describing file. Text fields are stored as they
are, the rest as JSON. Read with onnxruntime's `custom_metadata_map`: no `onnx` package needed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

FORMAT_VERSION = 1
FORMAT_KEY = "posekit_format"
_TEXT = ("paradigm", "model", "keypoint_set", "codec", "posekit_version")


@dataclass(frozen=True)
class ModelMetadata:
    """Everything besides the graph that running an exported model needs; one ONNX metadata key per field."""

    paradigm: str                            # topdown | bottomup
    model: str                               # zoo name, e.g. rtmpose-t
    keypoint_set: str                        # keypoint set name
    keypoint_names: tuple[str, ...]
    flip_index: tuple[int, ...]              # flipped[k] = original[flip_index[k]] after a mirror
    skeleton: tuple[tuple[int, int], ...]    # links between keypoint indices, for drawing
    input_size: tuple[int, int]              # network input (w, h)
    bbox_padding: float                      # top-down: person box side factor before the crop
    codec: str                               # codec name, e.g. simcc, heatmap
    codec_params: dict[str, Any] = field(default_factory=dict)
    posekit_version: str = ""
    refine: float = 0.0                      # whole-image box: a second look around the first pass's keypoints,
                                             # their box enlarged this much (0: off; older files: true = 1.0)
    refine_looks: int = 1                    # how many such looks, each around the last one's keypoints
    keypoint_threshold: float = 0.3          # score above which a keypoint is drawn by default
    whole_image_padding: float | None = None  # the factor when the whole image is the box (None: bbox_padding)

    def to_props(self) -> dict[str, str]:
        """String key/value pairs for metadata_props: text fields as they are, the rest as JSON, plus
        the format version."""
        props = {FORMAT_KEY: str(FORMAT_VERSION)}
        for f in fields(self):
            value = getattr(self, f.name)
            props[f.name] = value if f.name in _TEXT else json.dumps(value)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str) -> "ModelMetadata":
        """Read back `to_props`'s pairs; ValueError naming `source` if posekit metadata is missing, newer
        than this version, incomplete or malformed. Fields added later take their defaults."""
        if FORMAT_KEY not in props:
            raise ValueError(f"{source}: an ONNX model without posekit metadata; make one with `posekit export`")
        if not props[FORMAT_KEY].isdigit() or int(props[FORMAT_KEY]) > FORMAT_VERSION:
            raise ValueError(f"{source}: posekit export format {props[FORMAT_KEY]} is newer than this posekit "
                             f"reads ({FORMAT_VERSION}); upgrade posekit")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in props:
                if f.name in ("codec_params", "posekit_version", "refine", "refine_looks", "keypoint_threshold",
                              "whole_image_padding"):
                    continue
                raise ValueError(f"{source}: posekit metadata lacks '{f.name}'")
            try:
                values[f.name] = props[f.name] if f.name in _TEXT else json.loads(props[f.name])
            except json.JSONDecodeError:
                raise ValueError(f"{source}: posekit metadata '{f.name}' is not valid JSON") from None
        values["keypoint_names"] = tuple(values["keypoint_names"])
        values["flip_index"] = tuple(int(i) for i in values["flip_index"])
        values["skeleton"] = tuple((int(a), int(b)) for a, b in values["skeleton"])
        values["input_size"] = (int(values["input_size"][0]), int(values["input_size"][1]))
        values["bbox_padding"] = float(values["bbox_padding"])
        values["refine"] = float(values.get("refine", 0.0))
        values["refine_looks"] = max(1, int(values.get("refine_looks", 1)))
        values["keypoint_threshold"] = float(values.get("keypoint_threshold", 0.3))
        whole = values.get("whole_image_padding")
        values["whole_image_padding"] = None if whole is None else float(whole)
        return cls(**values)

