"""Export a posekit model (image batch in, one tensor or a tuple of tensors out) to ONNX."""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import nn


def export_onnx(model: nn.Module, input_size: tuple[int, int], path: str | Path, opset: int = 17,
                dynamic_batch: bool = True) -> Path:
    """Write `model` to `path` as ONNX with input "image" (B, 3, h, w), input_size (w, h).

    Outputs are named "output" for one tensor, "output0", "output1", ... for a tuple (SimCC gives
    x and y logits). The batch axis is dynamic unless dynamic_batch is False. Uses the TorchScript
    exporter (dynamo=False): it needs no extra package and handles every posekit model.
    """
    path = Path(path)
    w, h = input_size
    model = copy.deepcopy(model).cpu().eval()  # export must not flip the caller's model out of training
    example = torch.zeros(1, 3, h, w)
    with torch.no_grad():
        outputs = model(example)
    count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
    output_names = ["output"] if count == 1 else [f"output{i}" for i in range(count)]
    dynamic_axes = {name: {0: "batch"} for name in ["image", *output_names]} if dynamic_batch else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The legacy exporter announces its own deprecation on every call; the export itself is sound.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (example,), str(path), input_names=["image"], output_names=output_names,
                          opset_version=opset, dynamic_axes=dynamic_axes, dynamo=False, do_constant_folding=True)
    return path
