"""Running trained models: the `posekit.load()` API, predictors, detectors, video, tracking and smoothing."""
