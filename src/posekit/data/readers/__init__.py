"""Annotation readers: each returns a PoseData (records + keypoint set) and raises DataError naming
the file on bad input."""
from posekit.data.readers.coco import read_coco
from posekit.data.readers.common import BBOX_PADDING, bbox_from_keypoints
from posekit.data.readers.leeds import LSP_SPLITS, read_lsp, read_lspet
from posekit.data.readers.mpii import read_mpii, read_mpii_head_sizes

__all__ = ["read_coco", "read_lsp", "read_lspet", "read_mpii", "read_mpii_head_sizes", "bbox_from_keypoints",
           "BBOX_PADDING", "LSP_SPLITS"]
