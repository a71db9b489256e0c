"""Estimators: model + codec + loss. `loss(batch)` for training, `predict(batch)` for inference."""
