"""Transforms on numpy arrays: geometry (centre/scale, affine warps, flip, half-body and
cut-across-the-body crops, random scale/rotation), photometry (HSV, blur, CoarseDropout), and preprocess (the network input of a person
box or a whole image, and the way back; shared by datasets, inference and posekit.runtime)."""
from posekit.data.transforms.geometry import (
    apply_affine, bbox_xywh_to_center_scale, body_halves, compose_affine, cut_body_center_scale, fix_aspect_ratio, flip_image,
    flip_keypoints, get_warp_matrix, half_body_center_scale, half_body_ids, hflip_matrix, invert_affine,
    random_scale_rotation, shoulders_and_hips, truncated_normal,
)
from posekit.data.transforms.photometric import coarse_dropout, hsv_jitter, photometric, random_blur
from posekit.data.transforms.preprocess import BBOX_PADDING, Preprocess, coco_results, to_image

__all__ = [
    "BBOX_PADDING", "Preprocess", "apply_affine", "bbox_xywh_to_center_scale", "body_halves", "coarse_dropout",
    "coco_results", "compose_affine", "cut_body_center_scale", "fix_aspect_ratio", "flip_image", "flip_keypoints", "get_warp_matrix", "half_body_center_scale",
    "half_body_ids", "hflip_matrix", "hsv_jitter", "invert_affine", "photometric", "random_blur",
    "random_scale_rotation", "shoulders_and_hips", "to_image", "truncated_normal",
]
