"""Warping easy-view heatmaps into the hard view's frame must move a peak exactly where the
keypoint moves when the image is warped by the same input-pixel affine."""
import cv2
import numpy as np
import torch

from posekit.codecs import build_codec
from posekit.data.transforms.geometry import apply_affine, get_warp_matrix
from posekit.training.heatmap_warp import heatmap_affine, warp_heatmaps
from posekit.training.strategies.semi_common import heatmap_peaks


def test_heatmap_affine_divides_translation_by_stride():
    affine = torch.tensor([[[1.0, 0.0, 8.0], [0.0, 1.0, -4.0]]])
    out = heatmap_affine(affine, (4.0, 2.0))
    assert torch.allclose(out, torch.tensor([[[1.0, 0.0, 2.0], [0.0, 1.0, -2.0]]]))


def test_warped_peak_lands_where_the_keypoint_moved():
    input_size, heatmap_size = (96, 128), (24, 32)
    codec = build_codec("heatmap", input_size=input_size, heatmap_size=heatmap_size, sigma=2.0, mode="udp")
    keypoints = np.array([[40.0, 50.0], [60.0, 90.0]])
    encoded = codec.encode(keypoints, np.ones(2))["heatmaps"]
    # The hard view's affine as the UnlabeledDataset draws it: scale 1.2, rotation 25 degrees.
    affine = get_warp_matrix((48.0, 64.0), (96 / 1.2, 128 / 1.2), 25.0, input_size)
    moved = apply_affine(keypoints, affine)
    warped = warp_heatmaps(torch.from_numpy(encoded)[None], torch.from_numpy(affine)[None].float(), codec.stride)
    peaks = heatmap_peaks(warped)[0][0].numpy() * codec.stride
    assert np.abs(peaks - moved).max() <= codec.stride.max() * 0.75  # within one heatmap pixel
    # And the map equals the target encoded at the moved keypoints (image warped the same way).
    reference = codec.encode(moved, np.ones(2))["heatmaps"]
    assert np.abs(warped[0].numpy() - reference).max() < 0.35


def test_warp_matches_warping_the_image_itself():
    heat = np.zeros((32, 24), np.float32)
    heat[10:14, 6:9] = 1.0
    affine = np.array([[0.9, -0.2, 3.0], [0.25, 1.1, -2.0]])
    # With stride 1, heatmap pixels are input pixels: compare to cv2.warpAffine of the same map.
    expected = cv2.warpAffine(heat, affine, (24, 32), flags=cv2.INTER_LINEAR)
    got = warp_heatmaps(torch.from_numpy(heat)[None, None], torch.from_numpy(affine)[None].float(), (1.0, 1.0))
    assert np.abs(got[0, 0].numpy() - expected).max() < 0.05
