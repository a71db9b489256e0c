"""Readers, transforms and datasets."""
from posekit.data.records import DataError, ImageRecord, Person, PoseData

__all__ = ["DataError", "ImageRecord", "Person", "PoseData"]
