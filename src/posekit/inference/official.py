"""An official checkpoint (MMPose RTMPose/DWPose, HigherHRNet, Simple Pose) as a posekit estimator:
what `posekit.load`, `posekit predict --checkpoint` and `posekit convert checkpoint` share."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from posekit.models.official import OfficialWeights, convert_official, experiment_dict, load_converted


def official_estimator(checkpoint: dict[str, Any], path: str | Path, source: str | None = None,
                       model: str | None = None, keypoint_set: str | None = None,
                       part: str | None = None) -> tuple[Any, Any, OfficialWeights]:
    """(experiment config, estimator with the converted weights, the conversion) for a loaded
    checkpoint; errors are one line naming `path`."""
    from posekit.config import ExperimentConfig, from_dict
    from posekit.experiment import build_estimator, set_preprocess
    try:
        weights = convert_official(checkpoint, source, model, keypoint_set, part)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{path}: {exc.args[0] if exc.args else exc}") from None
    cfg = from_dict(ExperimentConfig, experiment_dict(weights))
    estimator = set_preprocess(build_estimator(cfg), cfg)
    load_converted(estimator.model, weights, path)
    return cfg, estimator, weights
