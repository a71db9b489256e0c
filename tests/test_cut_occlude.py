"""Joint Cutout and Cut-Occlude put their boxes where they should."""
import torch

from posekit.data.cut_occlude import cut_occlude, joint_cutout, paste_patch


def _batch() -> torch.Tensor:
    images = torch.zeros(2, 1, 40, 40)
    images[0] = 1.0
    images[1] = torch.arange(1600.0).reshape(1, 40, 40) + 10
    return images


def test_paste_patch_copies_the_source_box_onto_the_destination():
    images = _batch()
    dst = images[0].clone()
    assert paste_patch(dst, images[1], (10, 12), (25, 30), half=3)
    assert torch.equal(dst[:, 9:15, 7:13], images[1][:, 27:33, 22:28])
    changed = (dst != images[0]).nonzero()
    assert changed[:, 1].min() == 9 and changed[:, 1].max() == 14 and changed[:, 2].min() == 7 and changed[:, 2].max() == 12


def test_paste_patch_zeroes_the_box_when_borders_clip_differently():
    images = _batch()
    dst = images[0].clone()
    assert not paste_patch(dst, images[1], (20, 20), (1, 20), half=4)  # source box clipped at x = 0
    assert torch.all(dst[:, 16:24, 16:24] == 0)
    assert dst.sum() == 1600 - 64


def test_cut_occlude_pastes_other_image_at_this_images_joints():
    images = _batch()
    keypoints = torch.tensor([[[10.0, 10.0], [30.0, 30.0]], [[20.0, 20.0], [20.0, 20.0]]])
    torch.manual_seed(0)
    out = cut_occlude(images, keypoints, num_joints=2, half_size=(3, 4), jitter_sd=0.0)
    # Image 0 gets image 1's box around (20, 20) centred on each of its joints.
    for x, y in ((10, 10), (30, 30)):
        assert torch.equal(out[0, :, y - 3:y + 3, x - 3:x + 3], images[1, :, 17:23, 17:23])
    assert int((out[0] != 1.0).sum()) == 2 * 36
    # Image 1 gets image 0's (all-ones) boxes at its joint (20, 20) from joints away from borders.
    assert torch.all(out[1, :, 17:23, 17:23] == 1.0)
    assert torch.equal(images, _batch())  # the input is left untouched


def test_joint_cutout_zeroes_boxes_at_joints():
    images = torch.ones(1, 3, 40, 40)
    keypoints = torch.tensor([[[10.0, 30.0]]])
    out = joint_cutout(images, keypoints, num_joints=5, half_size=(4, 5), jitter_sd=0.0)
    assert torch.all(out[0, :, 26:34, 6:14] == 0)
    assert int((out == 0).sum()) == 3 * 64


def test_released_joint_cutout_never_masks_below_the_width():
    """The released code clips y to the width: on a 256x192 crop no row below 192 is ever zeroed."""
    images = torch.ones(64, 3, 256, 192)
    points = torch.tensor([[96.0, 240.0]]).repeat(64, 17, 1)  # every joint in the bottom quarter
    paper = joint_cutout(images, points, 5, (10, 20), 10.0, generator=torch.Generator().manual_seed(0))
    released = joint_cutout(images, points, 5, (10, 20), 10.0, generator=torch.Generator().manual_seed(0),
                            released=True)
    assert (paper[:, :, 192:] == 0).any()
    assert not (released[:, :, 192:] == 0).any()


def test_released_cut_occlude_transposes_x_and_y():
    images = torch.zeros(2, 1, 64, 64)
    images[1, :, 8:12, 48:52] = 1.0  # a bright patch around (x=50, y=10) in image 1
    images[1, :, 48:52, 8:12] = 2.0  # and another around its transpose (x=10, y=50)
    points = torch.tensor([[[50.0, 10.0]], [[50.0, 10.0]]])
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    paper = cut_occlude(images, points, 1, (4, 5), 0.0, generator=g())
    released = cut_occlude(images, points, 1, (4, 5), 0.0, generator=g(), released=True)
    assert paper[0, 0, 10, 50] == 1.0  # pasted at the joint (x 50, y 10)
    assert released[0, 0, 10, 50] == 0.0 and released[0, 0, 50, 10] == 2.0  # cut and pasted at (x 10, y 50)
