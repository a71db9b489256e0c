"""Datasets on hand-made images (written with cv2 to tmp_path) and on real LSP / COCO data."""
from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from torch.utils.data import DataLoader

from posekit.config import AugmentConfig
from posekit.data.datasets import IMAGENET_MEAN, IMAGENET_STD, BottomUpDataset, TopDownDataset, UnlabeledDataset
from posekit.data.records import DataError, ImageRecord, Person, PoseData
from posekit.data.transforms import apply_affine
from posekit.keypoints import KeypointSet, get_keypoint_set

COCO = get_keypoint_set("coco17")
TOPDOWN_KEYS = {"image", "heatmaps", "keypoint_weights", "keypoints", "keypoints_visible", "image_id", "warp",
                "bbox", "bbox_score", "area", "flipped", "skipped", "replaced"}


class FakeTopDownCodec:
    """Records what it was given, so tests can check the dataset's encode inputs."""

    def encode(self, keypoints, visible):
        return {"heatmaps": np.zeros((len(keypoints), 8, 6), np.float32),
                "keypoint_weights": np.asarray(visible, np.float32)}


class FakeBottomUpCodec:
    def __init__(self, output_sizes, max_people=4):
        self.output_sizes = output_sizes
        self.max_people = max_people

    def encode(self, keypoints, visible):
        points = np.zeros((self.max_people, keypoints.shape[1], 3), np.float32)
        points[:len(keypoints), :, :2] = keypoints
        points[:len(keypoints), :, 2] = visible
        return {"points": points}


def _pixels(image: torch.Tensor) -> np.ndarray:
    """Normalised (3, H, W) -> RGB float (H, W, 3) in 0..255."""
    return image.numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN


def _person(keypoints_xy, bbox, visible=None, **kw) -> Person:
    k = len(keypoints_xy)
    v = np.full(k, 2.0) if visible is None else np.asarray(visible, float)
    kps = np.concatenate([np.asarray(keypoints_xy, float), v[:, None]], axis=1).astype(np.float32)
    return Person(kps, np.asarray(bbox, np.float32), **kw)


def _write(tmp_path, name, image_rgb) -> str:
    path = tmp_path / name
    cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def _body(cx=80.0, top=20.0):
    """A plausible COCO-17 stick figure, about 100 px tall, centred at x = cx."""
    offsets = np.array([[0, 0], [-4, -3], [4, -3], [-8, 0], [8, 0], [-15, 20], [15, 20], [-20, 40], [20, 40],
                        [-22, 58], [22, 58], [-10, 60], [10, 60], [-11, 85], [11, 85], [-12, 108], [12, 108]], float)
    # Keypoint names say left/right from the person's view: shift left-side joints a little so that
    # the figure is not mirror-symmetric.
    offsets[1::2][1:, 0] += 3
    return offsets + [cx, top]


@pytest.fixture
def topdown_data(tmp_path) -> PoseData:
    rng = np.random.default_rng(0)
    records = []
    for i in range(3):
        image = rng.integers(0, 255, (160, 200, 3), dtype=np.uint8)
        kps = _body(cx=70 + 20 * i)
        person = _person(kps, [kps[:, 0].min() - 5, 15, np.ptp(kps[:, 0]) + 10, 120], id=i)
        records.append(ImageRecord(i + 1, _write(tmp_path, f"im{i}.png", image), 200, 160, [person]))
    return PoseData(records, COCO, source="hand-made")


def test_topdown_val_sample_contract(tmp_path):
    image = np.zeros((100, 120, 3), np.uint8)
    image[:] = (200, 100, 50)
    kps = _body(cx=60, top=-5)[:, :] * [1, 0.8]
    visible = np.full(17, 2.0)
    visible[3] = 0
    person = _person(kps, [30, 0, 60, 90], visible, area=1234.0)
    crowd = _person(kps, [0, 0, 10, 10], iscrowd=True)
    data = PoseData([ImageRecord(7, _write(tmp_path, "a.png", image), 120, 100, [person, crowd])], COCO, "one")
    ds = TopDownDataset(data, (48, 64), FakeTopDownCodec(), train=False)
    assert len(ds) == 1  # the crowd region is no sample
    s = ds[0]
    assert set(s) == TOPDOWN_KEYS
    assert s["image"].shape == (3, 64, 48) and s["image"].dtype == torch.float32
    # RGB order and ImageNet normalisation, checked on the plain-coloured image.
    np.testing.assert_allclose(s["image"][:, 32, 24].numpy(),
                               (np.array([200, 100, 50]) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
                               atol=1e-4)
    assert s["warp"].dtype == torch.float64 and s["warp"].shape == (2, 3)
    # Box 60 x 90 padded 1.25 -> 75 x 112.5, aspect 0.75 -> 84.375 x 112.5: factor 48 / 84.375.
    np.testing.assert_allclose(s["warp"][0, 0].item(), 48 / 84.375)
    np.testing.assert_allclose(s["keypoints"].numpy(), apply_affine(kps, s["warp"].numpy()), atol=1e-4)
    assert s["keypoints_visible"][3] == 0 and s["keypoints_visible"].sum() == 16
    assert s["image_id"] == 7 and s["area"] == 1234.0 and s["bbox_score"] == 1.0 and s["flipped"] is False
    np.testing.assert_allclose(s["bbox"].numpy(), [30, 0, 60, 90])
    batch = next(iter(DataLoader(ds, batch_size=1)))
    assert batch["image"].shape == (1, 3, 64, 48) and batch["warp"].dtype == torch.float64


def test_topdown_flip_moves_pixels_with_keypoints(tmp_path):
    """A white dot on the left wrist only: after a (forced) flip it must sit under the right-wrist
    keypoint of the sample (left and right swap in a mirror), and the warp must send the original
    keypoints to the sample's ones with left/right permuted."""
    kps = _body(cx=80, top=20)
    image = np.zeros((160, 160, 3), np.uint8)
    lw, rw = COCO.index("left_wrist"), COCO.index("right_wrist")
    x, y = np.round(kps[lw]).astype(int)
    kps[lw] = (x, y)
    cv2.circle(image, (int(x), int(y)), 2, (255, 255, 255), -1)
    person = _person(kps, [50, 15, 60, 120])
    data = PoseData([ImageRecord(1, _write(tmp_path, "dot.png", image), 160, 160, [person])], COCO, "dot")
    aug = AugmentConfig(flip=1.0, scale=(1.0, 1.0), rotation=30.0, rotation_prob=1.0)
    ds = TopDownDataset(data, (96, 128), FakeTopDownCodec(), augment=aug, train=True, seed=3)
    s = ds[0]
    assert s["flipped"] is True
    out = _pixels(s["image"])[..., 0]
    ys, xs = np.nonzero(out > 60)
    dot = np.array([xs.mean(), ys.mean()])
    np.testing.assert_allclose(dot, s["keypoints"][rw].numpy(), atol=1.0)
    mapped = apply_affine(kps, s["warp"].numpy())
    np.testing.assert_allclose(s["keypoints"].numpy(), mapped[COCO.flip_index], atol=1e-4)


def test_topdown_half_body_crops_one_half(topdown_data):
    aug = AugmentConfig(flip=0.0, half_body=1.0, scale=(1.0, 1.0), rotation_prob=0.0)
    ds = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), augment=aug, train=True)
    upper, lower = list(range(11)), list(range(11, 17))
    halves = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        s = ds[0]
        kps = topdown_data.records[0].persons[0].keypoints[:, :2]
        for half in (upper, lower):
            # The crop is centred on the mean of one half's joints.
            if np.allclose(apply_affine(kps[half].mean(0), s["warp"].numpy()), [24, 32], atol=1e-6):
                halves.add(half[0])
    assert halves == {0, 11}


def test_topdown_cut_body_crops_above_the_cut(topdown_data):
    """A cut at the shoulders: the ankles fall outside the crop (invisible), the head stays in."""
    aug = AugmentConfig(flip=0.0, cut_body=1.0, cut_range=(0.3, 0.3), scale=(1.0, 1.0), rotation_prob=0.0)
    ds = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), augment=aug, train=True)
    s = ds[0]
    visible = s["keypoints_visible"].numpy()
    assert visible[0] == 1 and visible[15] == 0 and visible[16] == 0
    whole = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), augment=AugmentConfig(
        flip=0.0, scale=(1.0, 1.0), rotation_prob=0.0), train=True)[0]
    assert whole["keypoints_visible"].numpy()[15:].all()
    # A set without shoulders and hips cannot be cut; the error names the key and the set.
    hand = KeypointSet("hand3", ("wrist", "thumb_tip", "index_tip"))
    person = _person([[10, 10], [20, 20], [30, 30]], [5, 5, 30, 30])
    data = PoseData([ImageRecord(1, topdown_data.records[0].file_name, 200, 160, [person])], hand, "hands")
    with pytest.raises(DataError, match="hands: data.augment.cut_body .* 'hand3'"):
        TopDownDataset(data, (48, 64), FakeTopDownCodec(), augment=aug, train=True)


def test_topdown_detection_boxes_and_errors(topdown_data):
    boxes = {1: [([10, 10, 50, 80], 0.9), ([60, 20, 40, 40], 0.4)], 3: [([0, 0, 500, 500], 0.7)]}
    ds = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), boxes=boxes)
    assert len(ds) == 3
    s = ds[1]
    assert s["image_id"] == 1 and s["bbox_score"] == pytest.approx(0.4) and s["keypoints_visible"].sum() == 0
    np.testing.assert_allclose(ds[2]["bbox"].numpy(), [0, 0, 200, 160])  # clipped to the image
    with pytest.raises(DataError, match="empty source"):
        TopDownDataset(PoseData([], COCO, "empty source"), (48, 64), FakeTopDownCodec())
    with pytest.raises(DataError, match="hand-made: no persons with >= 20"):
        TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), train=True, min_keypoints=20)


def test_same_seed_same_samples_with_workers(topdown_data):
    aug = AugmentConfig(half_body=0.3, hsv=True, blur=0.5, coarse_dropout=0.5, translate=5.0)
    ds = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), augment=aug, train=True, seed=11)
    ds.set_epoch(2)
    direct = [ds[i] for i in range(len(ds))]
    loaded = [b for b in DataLoader(ds, batch_size=1, num_workers=2)]
    for a, b in zip(direct, loaded):
        assert torch.equal(a["image"], b["image"][0]) and torch.equal(a["warp"], b["warp"][0])
    ds.set_epoch(3)
    assert not torch.equal(ds[0]["image"], direct[0]["image"])
    other = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), augment=aug, train=True, seed=11)
    other.set_epoch(2)
    assert torch.equal(other[1]["image"], direct[1]["image"])


def test_corrupt_image_is_replaced_with_a_warning(topdown_data, tmp_path, capsys):
    """In training; evaluation skips and counts instead (tests/test_eval_skips.py)."""
    bad = tmp_path / "im1.png"
    bad.write_bytes(b"not an image at all")
    ds = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), train=True, augment=None)
    ds.set_epoch(0)
    s = ds[1]
    err = capsys.readouterr().err
    assert err.startswith("posekit: warning:") and "im1.png" in err and "1 image(s) failed" in err
    assert s["image_id"] == 3 and s["replaced"]  # the next sample stands in, deterministically
    assert ds.num_failed == 1
    assert ds[1]["image_id"] == 3 and not capsys.readouterr().err  # a known-bad file: no second warning
    ds2 = TopDownDataset(topdown_data, (48, 64), FakeTopDownCodec(), train=True, augment=None)
    ds2.set_epoch(0)
    ds2.set_epoch(1)
    assert ds2[1]["replaced"] and not capsys.readouterr().err  # named in the first epoch only
    for i in (0, 2):
        (tmp_path / f"im{i}.png").write_bytes(b"")
    with pytest.raises(DataError, match="none of the 3 samples"):
        ds[0]


def _square(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def test_bottomup_masks_zero_on_crowd_and_unlabelled_persons(tmp_path):
    image = np.full((64, 64, 3), 90, np.uint8)
    kps = _body(cx=45, top=5) * [0.4, 0.5] + [20, 0]
    people = [
        _person(kps, [20, 0, 20, 60], id=1),
        _person(np.zeros((17, 2)), [0, 0, 0, 0], np.zeros(17), iscrowd=True, id=2,
                segmentation=_square(4, 4, 20, 20)),
        _person(np.zeros((17, 2)), [40, 44, 12, 12], np.zeros(17), id=3),  # no keypoints, no segmentation
    ]
    rle = mask_utils.encode(np.asfortranarray(np.pad(np.ones((6, 6), np.uint8), ((50, 8), (4, 54)))))
    rle["counts"] = rle["counts"].decode()
    people.append(_person(np.zeros((17, 2)), [4, 50, 6, 6], np.zeros(17), iscrowd=True, id=4, segmentation=rle))
    data = PoseData([ImageRecord(5, _write(tmp_path, "b.png", image), 64, 64, people)], COCO, "bu")
    codec = FakeBottomUpCodec([(32, 32), (64, 64)])
    # Masks and targets are for training (validation samples hold only what prediction needs); without
    # `augment` a training sample is the whole image, here at its own size.
    s = BottomUpDataset(data, 64, codec, train=True)[0]
    assert set(s) == {"image", "points", "masks", "image_id", "warp", "skipped", "replaced"}
    np.testing.assert_allclose(s["warp"].numpy(), np.eye(2, 3))  # same size: identity
    full, half = s["masks"][1].numpy(), s["masks"][0].numpy()
    assert full.shape == (64, 64) and half.shape == (32, 32) and full.dtype == np.float32
    expected = np.ones((64, 64), np.float32)
    expected[4:20, 4:20] = 0   # polygon interior (pycocotools rasterises x0..x1 exclusive of the far edge)
    expected[44:56, 40:52] = 0  # the keypoint-less person's box
    expected[50:56, 4:10] = 0   # compressed-RLE crowd
    assert (full != expected).sum() <= 2 * (16 + 16)  # only polygon edge pixels may differ
    assert full[6:18, 6:18].max() == 0 and full[46:54, 42:50].max() == 0 and full[51:55, 5:9].max() == 0
    assert full[30, 30] == 1 and half[15, 15] == 1
    assert half[3:9, 3:9].max() == 0 and half[23:27, 21:25].max() == 0
    np.testing.assert_allclose(s["points"][0, :, :2].numpy(), kps, atol=1e-4)
    assert s["points"][1:].abs().sum() == 0  # crowd / keypoint-less persons are not encoded


def test_bottomup_train_affine_keeps_keypoints_on_pixels(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    people = [_person(_body(cx=50, top=5), [30, 0, 40, 115]), _person(_body(cx=110, top=0), [90, 0, 40, 110])]
    data = PoseData([ImageRecord(1, _write(tmp_path, "c.png", image), 160, 120, people)], COCO, "bu")
    aug = AugmentConfig(flip=0.5, scale=(0.75, 1.5), rotation=30, rotation_prob=1.0, translate=40)
    ds = BottomUpDataset(data, 64, FakeBottomUpCodec([(16, 16), (32, 32)]), augment=aug, train=True, seed=1)
    flips = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        s = ds[0]
        points = s["points"][:2].numpy()
        vis = points[..., 2] > 0
        assert np.all((points[..., :2][vis] >= 0) & (points[..., :2][vis] <= 63))
        mapped = np.stack([apply_affine(p.keypoints[:, :2], s["warp"].numpy()) for p in people])
        straight = np.allclose(points[..., :2][vis], mapped[vis], atol=1e-3)
        mirrored = np.allclose(points[..., :2][vis], mapped[:, COCO.flip_index][vis], atol=1e-3)
        assert straight != mirrored
        flips.add(mirrored)
        assert all(m.min() == 1 for m in s["masks"])  # nothing to ignore in this image
    assert flips == {True, False}


def test_unlabeled_affine_maps_easy_to_hard(tmp_path):
    # A smooth blob: its intensity centroid moves with any affine map, so it can be found precisely.
    yy, xx = np.mgrid[0:120, 0:100]
    blob = 255 * np.exp(-((xx - 58) ** 2 + (yy - 50) ** 2) / (2 * 3.0 ** 2))
    image = np.repeat(blob[..., None], 3, axis=2).astype(np.uint8)
    path = _write(tmp_path, "u.png", image)
    aug = AugmentConfig(flip=0.5, scale=(0.9, 1.1), rotation=20, rotation_prob=1.0)
    ds = UnlabeledDataset([path], (96, 128), augment=aug, seed=0, hard_prob=1.0)

    def centroid(view):
        w = _pixels(view)[..., 0].clip(0, 255)
        w = np.where(w > 20, w, 0)
        ys, xs = np.nonzero(w)
        return np.array([(xs * w[ys, xs]).sum(), (ys * w[ys, xs]).sum()]) / w[ys, xs].sum()

    for epoch in range(3):
        ds.set_epoch(epoch)
        s = ds[0]
        assert set(s) == {"image_easy", "image_hard", "affine", "image_id", "skipped", "replaced"}
        assert s["affine"].dtype == torch.float32 and s["image_hard"].shape == (3, 128, 96)
        assert not np.allclose(s["affine"].numpy(), np.eye(2, 3))
        easy, hard = centroid(s["image_easy"]), centroid(s["image_hard"])
        np.testing.assert_allclose(hard, apply_affine(easy, s["affine"].numpy().astype(np.float64)), atol=0.5)


def test_unlabeled_uses_person_boxes(tmp_path):
    image = np.zeros((100, 100, 3), np.uint8)
    image[40:60, 10:30] = 255
    path = _write(tmp_path, "p.png", image)
    record = ImageRecord(9, path, 100, 100, [_person(np.zeros((17, 2)), [10, 40, 20, 20], np.zeros(17))])
    ds = UnlabeledDataset(PoseData([record], COCO, "u"), (64, 64), augment=None, hard_prob=0.0)
    s = ds[0]
    assert s["image_id"] == 9
    easy = _pixels(s["image_easy"])[..., 0]
    # The 20 x 20 white box padded by 1.25: white centre, black corners.
    assert easy[32, 32] > 250 and easy[2, 2] < 5
    np.testing.assert_allclose((easy > 128).mean(), (20 / 25) ** 2, atol=0.05)
    affine = s["affine"].numpy()  # hard_prob 0: no rotation, but the scale is always drawn (released code)
    assert abs(affine[0, 1]) < 1e-6 and abs(affine[1, 0]) < 1e-6 and abs(affine[0, 0] - affine[1, 1]) < 1e-6
    with pytest.raises(DataError, match="unlabeled image list: no images"):
        UnlabeledDataset([], (64, 64))


# ---------------------------------------------------------------------------------------------
# Real data


def test_lsp_topdown_full_augmentation(lsp_root):
    from posekit.codecs import build_codec
    from posekit.data.readers import read_lsp

    data = read_lsp(lsp_root, "train")
    data = PoseData(data.records[:24], data.keypoint_set, data.source)
    codec = build_codec("heatmap", input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    aug = AugmentConfig(half_body=0.3, scale=(0.6, 1.4), rotation=80, hsv=True, blur=0.1, coarse_dropout=1.0)
    ds = TopDownDataset(data, (192, 256), codec, augment=aug, train=True, seed=0)
    assert len(ds) == 24
    batch = next(iter(DataLoader(ds, batch_size=12)))
    assert batch["image"].shape == (12, 3, 256, 192)
    assert batch["heatmaps"].shape == (12, 14, 64, 48) and batch["keypoint_weights"].shape == (12, 14)
    lo, hi = (0 - IMAGENET_MEAN) / IMAGENET_STD, (255 - IMAGENET_MEAN) / IMAGENET_STD
    assert batch["image"].min() >= lo.min() - 1e-4 and batch["image"].max() <= hi.max() + 1e-4
    vis = batch["keypoints_visible"] > 0
    kps = batch["keypoints"]
    assert vis.float().mean() > 0.5
    assert torch.all((kps[vis] >= 0) & (kps[vis][:, 0] <= 191)[:, None] & (kps[vis][:, 1] <= 255)[:, None])
    assert batch["heatmaps"].amax(dim=(2, 3))[vis].min() > 0.5  # every visible joint has its Gaussian
    # Without augmentation every labelled LSP joint lies inside its (padded) crop.
    val = TopDownDataset(data, (192, 256), codec, train=False)
    assert all(val[i]["keypoints_visible"].sum() == 14 for i in range(0, 24, 6))


def test_coco_subset_bottomup_and_topdown(coco_subset):
    from posekit.data.readers import read_coco

    data = read_coco(coco_subset / "person_keypoints_merged.json")
    crowd_ids = [r.image_id for r in data.records if any(p.iscrowd for p in r.persons)]
    assert crowd_ids, "the subset has crowd regions"
    records = [r for r in data.records if r.image_id == crowd_ids[0]]
    records += [r for r in data.records if any(p.num_keypoints > 0 for p in r.persons)][:5]
    subset = PoseData(records, data.keypoint_set, data.source)
    codec = FakeBottomUpCodec([(128, 128), (256, 256)], max_people=30)
    aug = AugmentConfig(flip=0.5, scale=(0.75, 1.5), rotation=30, rotation_prob=1.0, translate=40)
    train = BottomUpDataset(subset, 512, codec, augment=aug, train=True, seed=0)
    batch = next(iter(DataLoader(train, batch_size=3)))
    assert batch["image"].shape == (3, 3, 512, 512)
    assert [m.shape for m in batch["masks"]] == [(3, 128, 128), (3, 256, 256)]
    points = batch["points"]
    vis = points[..., 2] > 0
    assert torch.all((points[..., :2][vis] >= 0) & (points[..., :2][vis] <= 511))
    still = BottomUpDataset(subset, 512, codec, train=True)  # no augment: the whole image, letterboxed
    crowd_sample = still[0]
    assert crowd_sample["image_id"] == crowd_ids[0]
    assert crowd_sample["masks"][0].min() == 0 and crowd_sample["masks"][0].mean() > 0.3
    # Validation feeds the network posekit predict's input: short side 512, long side a multiple of 64.
    val = BottomUpDataset(subset, 512, codec, train=False)
    for i in range(len(val)):
        record, sample = val.data.records[val.indices[i]], val[i]
        assert set(sample) == {"image", "image_id", "warp", "skipped", "replaced"}
        height, width = sample["image"].shape[1:]
        assert min(width, height) == 512 and max(width, height) % 64 == 0
        np.testing.assert_allclose(sample["warp"].numpy(), val.preprocess.resize_warp(record.width, record.height)[0])
    # Top-down validation: one sample per non-crowd person with keypoints, all joints in the crop.
    topdown = TopDownDataset(subset, (192, 256), FakeTopDownCodec())
    expected = sum(1 for r in records for p in r.persons if not p.iscrowd and p.num_keypoints > 0)
    assert len(topdown) == expected
    for i in range(0, len(topdown), max(1, len(topdown) // 4)):
        s = topdown[i]
        labelled = topdown.instances[i].keypoints[:, 2] > 0
        assert s["keypoints_visible"].numpy()[labelled].mean() > 0.8


def test_lspet_unlabeled_views(lspet_root):
    from posekit.data.readers import read_lspet

    data = read_lspet(lspet_root, limit=6)
    aug = AugmentConfig(scale=(0.75, 1.25), rotation=30, hsv=True, coarse_dropout=0.5)
    ds = UnlabeledDataset(data, (192, 256), augment=aug, seed=0)
    assert len(ds) == 6  # one person box per LSPET image
    batch = next(iter(DataLoader(ds, batch_size=6, num_workers=2)))
    assert batch["image_easy"].shape == batch["image_hard"].shape == (6, 3, 256, 192)
    assert batch["affine"].shape == (6, 2, 3)
    assert [int(i) for i in batch["image_id"]] == [r.image_id for r in data.records]
    # The easy crop is centred on the person: mostly image content, not zero padding.
    padding = torch.from_numpy(-IMAGENET_MEAN / IMAGENET_STD)[None, :, None, None]
    assert (batch["image_easy"] - padding).abs().amax(dim=1).gt(1e-3).float().mean() > 0.5


def test_unlabeled_hard_view_warps_the_easy_crop_with_zeros_outside(tmp_path):
    """Released PoseDual/SSPCM: the hard view is the easy crop under the extra affine, black where the
    crop has nothing (the warped targets are zero there too), not a re-cut of the original image."""
    image = np.full((200, 200, 3), 200, np.uint8)  # bright everywhere: a re-cut would show no black
    path = _write(tmp_path, "bright.png", image)
    record = ImageRecord(1, path, 200, 200, [_person(np.zeros((17, 2)), [80, 80, 40, 40], np.zeros(17))])
    ds = UnlabeledDataset(PoseData([record], COCO, "u"), (64, 64), augment=None, seed=3, hard_prob=1.0,
                          hard_scale_range=(0.75, 0.75), hard_scale_sd=0.0)
    s = ds[0]
    easy, hard = _pixels(s["image_easy"]), _pixels(s["image_hard"])
    expected = cv2.warpAffine(easy.clip(0, 255).round().astype(np.uint8), s["affine"].numpy().astype(np.float64),
                              (64, 64), flags=cv2.INTER_LINEAR)
    assert np.abs(hard - expected).max() <= 2
    assert (hard[0, 0] < 5).all()  # zoomed out by 0.75: the corners lie outside the easy crop


def test_clipped_jitter_is_simplebaselines():
    """scale clip(N(1, 0.25), 0.75, 1.25) and rotation clip(N(0, 30), +-60): about a third of the scale
    draws on the bounds, rotations beyond 30 degrees; the mmpose (truncated) draw has neither."""
    from posekit.data.transforms.geometry import random_scale_rotation
    rng = np.random.default_rng(0)
    clipped = np.array([random_scale_rotation(rng, (0.75, 1.25), 30.0, 1.0, "clipped") for _ in range(4000)])
    on_bounds = np.isclose(clipped[:, 0], 0.75) | np.isclose(clipped[:, 0], 1.25)
    assert 0.28 < on_bounds.mean() < 0.36
    assert np.abs(clipped[:, 1]).max() == 60.0 and (np.abs(clipped[:, 1]) > 30).mean() > 0.25
    truncated = np.array([random_scale_rotation(rng, (0.75, 1.25), 30.0, 1.0) for _ in range(2000)])
    assert np.abs(truncated[:, 1]).max() <= 30.0 and not np.isclose(truncated[:, 0], 1.25).any()
