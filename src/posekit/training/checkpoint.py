"""Checkpoints written atomically, and the RNG states that make a resumed run exact."""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.models.safe_load import check_format, load_error_reason


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write `state` to `path` so that a reader (or a crash) never sees a half-written file:
    write a temporary file in the same folder, fsync it, then os.replace it over the target."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        except OSError:
            pass
        raise
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A posekit training checkpoint, read weights-only; FileNotFoundError, or a one-line ValueError
    for an unreadable file or one without the 'strategy' entry posekit writes."""
    path = Path(path)
    check_format(path)  # an ONNX file or a photo is named as such (torch's error advises running its code)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for a truncated, foreign or unsafe file
        raise ValueError(f"{path}: not a readable checkpoint: {load_error_reason(exc)}") from None
    if not isinstance(state, dict) or "strategy" not in state:
        raise ValueError(f"{path}: not a posekit training checkpoint (no 'strategy' entry)")
    return state


def network_weights(state: Any) -> dict[str, torch.Tensor] | None:
    """The deliverable network's weights in a loaded posekit training checkpoint (its 'estimator' entry)
    or model file (inference.model_file: its 'weights', floats as fp32); None for anything else."""
    if isinstance(state, dict) and "posekit_model" in state:
        return {k: v.float() if v.is_floating_point() else v for k, v in state["weights"].items()}
    if isinstance(state, dict) and isinstance(state.get("estimator"), dict):
        return state["estimator"]
    return None


def network_record(networks: dict[str, tuple[str, dict]]) -> dict[str, dict[str, Any]]:
    """A strategy's networks() as checkpoint metadata: {slot: {"model": zoo name, "params": {...}}}."""
    return {slot: {"model": name, "params": dict(params)} for slot, (name, params) in networks.items()}


def recorded_networks(state: dict[str, Any]) -> dict[str, tuple[str, dict]]:
    """{slot: (zoo name, params)} a checkpoint records; empty for checkpoints written before the record."""
    record = state.get("metadata", {}).get("networks", {})
    return {slot: (entry["model"], dict(entry["params"])) for slot, entry in record.items()}


def rng_state() -> dict[str, Any]:
    """Every global random generator a training step can draw from, as tensors and plain Python
    values so that checkpoints load with torch.load(weights_only=True)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved; the CUDA states only where saved and CUDA is available."""
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
