"""A deliverable model in one small file: weights (fp16) plus everything needed to run them.

A training checkpoint carries optimizer state, RNG states and the whole experiment; a model file
carries only what inference needs, the way torchvision's weights carry their transforms:

    {"posekit_model": 1, "model": zoo name, "model_params": {...}, "keypoint_set": name,
     "input_size": [w, h], "bbox_padding": float (person boxes: the training crops' factor),
     "whole_image_padding": float (when the whole image is the box; absent in older files: bbox_padding),
     "codec": {name, params...},
     "weights": state dict (fp16), "refine": float (0: off; else a second look around the first pass's
     keypoints, their box enlarged this much, when the whole image is the box; inference.predictor;
     older files say true, read as 1.0), "refine_looks": int (how many such looks, each around the
     last one's keypoints; absent in older files: 1), "keypoint_threshold": the score above which
     a keypoint is drawn by default, "info": {free-form provenance and scores}}

It loads with torch.load(weights_only=True): plain tensors, numbers, strings, lists and dicts only.
The shipped default model (posekit/weights/) is such a file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


FORMAT_VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "weights" / "default_body.pt"


def is_model_file(state: Any) -> bool:
    """True for a loaded model file (a dict with 'posekit_model'), not a training checkpoint."""
    return isinstance(state, dict) and "posekit_model" in state


def model_file_state(estimator: Any, model_name: str, input_size: tuple[int, int], bbox_padding: float,
                     codec: dict, model_params: dict | None = None, info: dict | None = None,
                     half: bool = True, refine: float = 0.0, keypoint_threshold: float = 0.3,
                     whole_image_padding: float | None = None, refine_looks: int = 1) -> dict[str, Any]:
    """The model-file dict (layout in the module docstring) for a trained estimator.

    `half`: store floating-point weights as fp16 (integer buffers are kept). `codec`: {name, params...}
    as the zoo builder takes it.
    """
    weights = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
               for k, v in estimator.state_dict().items()}
    return {"posekit_model": FORMAT_VERSION, "model": model_name, "model_params": dict(model_params or {}),
            "keypoint_set": estimator.keypoint_set.name, "input_size": [int(input_size[0]), int(input_size[1])],
            "bbox_padding": float(bbox_padding), "codec": dict(codec), "weights": weights, "refine": float(refine),
            "refine_looks": int(refine_looks), "keypoint_threshold": float(keypoint_threshold), "info": dict(info or {}),
            **({} if whole_image_padding is None else {"whole_image_padding": float(whole_image_padding)})}


def save_model_file(state: dict[str, Any], path: str | Path) -> Path:
    """Write `state` atomically (no half-written file), creating folders; returns the path."""
    from posekit.training.checkpoint import save_checkpoint
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(state, path)
    return path


def read_model_file(path: str | Path) -> dict[str, Any]:
    """Load a model file with weights_only; ValueError if it is not one or its format is newer."""
    from posekit.models.safe_load import load_weights_only
    path = Path(path)
    state = load_weights_only(path, "model file")  # one-line errors naming the file
    if not is_model_file(state):
        raise ValueError(f"{path}: not a posekit model file (no 'posekit_model' entry)")
    if state["posekit_model"] > FORMAT_VERSION:
        raise ValueError(f"{path}: model file format {state['posekit_model']} is newer than this posekit "
                         f"reads ({FORMAT_VERSION}); upgrade posekit")
    return state


def estimator_from_model_file(state: dict[str, Any], source: str = "model file") -> Any:
    """Build the estimator a model file describes, with its preprocessing, and load its weights (in float32)."""
    from posekit.data.transforms.preprocess import Preprocess
    from posekit.estimators.topdown import build_topdown_estimator
    codec = dict(state["codec"])
    estimator = build_topdown_estimator(state["model"], state["keypoint_set"], tuple(state["input_size"]),
                                        codec, state.get("model_params") or {})
    estimator.preprocess = Preprocess(state["input_size"], state["bbox_padding"],
                                      whole_image_padding=state.get("whole_image_padding"))
    from posekit.training.checkpoint import network_weights
    try:
        estimator.load_state_dict(network_weights(state))
    except RuntimeError as exc:
        raise ValueError(f"{source}: weights do not fit model '{state['model']}': {str(exc).splitlines()[0]}") from None
    return estimator.eval()
