"""Torch datasets producing the batch dicts of docs/developer.md: top-down (one person per sample),
bottom-up (whole image, ignore masks), unlabeled (easy/hard views)."""
from posekit.data.datasets.bottomup import BottomUpDataset
from posekit.data.datasets.common import IMAGENET_MEAN, IMAGENET_STD, SeededDataset, normalize_image
from posekit.data.datasets.masks import ignore_mask, person_mask
from posekit.data.datasets.topdown import TopDownDataset
from posekit.data.datasets.unlabeled import UnlabeledDataset

__all__ = ["BottomUpDataset", "IMAGENET_MEAN", "IMAGENET_STD", "SeededDataset", "TopDownDataset",
           "UnlabeledDataset", "ignore_mask", "normalize_image", "person_mask"]
