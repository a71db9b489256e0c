"""Transforms on numpy arrays: geometry (centre/scale, affine warps, flip, half-body, random
scale/rotation) and photometry (HSV, blur, CoarseDropout). The datasets compose them."""
from posekit.data.transforms.geometry import (
    apply_affine, bbox_xywh_to_center_scale, body_halves, compose_affine, fix_aspect_ratio, flip_image,
    flip_keypoints, get_warp_matrix, half_body_center_scale, half_body_ids, hflip_matrix, invert_affine,
    random_scale_rotation, truncated_normal,
)
from posekit.data.transforms.photometric import coarse_dropout, hsv_jitter, photometric, random_blur

__all__ = [
    "apply_affine", "bbox_xywh_to_center_scale", "body_halves", "coarse_dropout", "compose_affine",
    "fix_aspect_ratio", "flip_image", "flip_keypoints", "get_warp_matrix", "half_body_center_scale",
    "half_body_ids", "hflip_matrix", "hsv_jitter", "invert_affine", "photometric", "random_blur",
    "random_scale_rotation", "truncated_normal",
]
