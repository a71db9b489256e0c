"""Image loading and the annotation readers (COCO-format JSON, LSP, LSPET, MPII), on hand-made
files and on the real data in ../shared/data."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from posekit.data.io import image_size, load_image
from posekit.data.readers import (bbox_from_keypoints, read_coco, read_lsp, read_lspet, read_mpii,
                                  read_mpii_head_sizes)
from posekit.data.records import DataError


def _write_jpeg(path: Path, width: int = 40, height: int = 30) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


# ------------------------------------------------------------------------------------- images

def test_load_image_is_rgb(tmp_path):
    bgr_red = np.zeros((5, 7, 3), np.uint8)
    bgr_red[..., 2] = 255
    cv2.imwrite(str(tmp_path / "red.png"), bgr_red)
    image = load_image(tmp_path / "red.png")
    assert image.shape == (5, 7, 3) and image.dtype == np.uint8
    assert (image[..., 0] == 255).all() and not image[..., 1:].any()
    assert image_size(tmp_path / "red.png") == (7, 5)


def test_image_size_reads_jpeg_headers(tmp_path):
    assert image_size(_write_jpeg(tmp_path / "a.jpg", 41, 23)) == (41, 23)
    assert load_image(tmp_path / "a.jpg").shape == (23, 41, 3)


@pytest.mark.parametrize("content, message", [
    (None, "not found"), (b"", "empty"), (b"not an image at all", "cannot decode"),
    ("truncated-jpeg", "truncated JPEG"), ("truncated-png", "truncated PNG")])
def test_load_image_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.img"
    if content == "truncated-jpeg":
        data = _write_jpeg(tmp_path / "ok.jpg", 64, 64).read_bytes()
        path.write_bytes(data[: len(data) // 2])  # OpenCV alone would return a half-grey image
    elif content == "truncated-png":
        cv2.imwrite(str(tmp_path / "ok.png"), np.full((32, 32, 3), 9, np.uint8))
        data = (tmp_path / "ok.png").read_bytes()
        path.write_bytes(data[:-20])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_image(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_only_regular_files_under_the_size_limit_are_read(tmp_path, monkeypatch):
    import os

    from posekit.data import io
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer
    for path in (Path("/dev/zero"), fifo, tmp_path):
        for read in (load_image, image_size):
            with pytest.raises(DataError, match="not a regular file"):
                read(path)
    big = _write_jpeg(tmp_path / "big.jpg", 64, 64)
    monkeypatch.setattr(io, "MAX_IMAGE_BYTES", big.stat().st_size - 1)
    with pytest.raises(DataError, match="big.jpg: image file of .* over the"):
        load_image(big)


def test_jpeg_with_data_after_the_end_marker_still_loads(tmp_path):
    path = _write_jpeg(tmp_path / "x.jpg")
    path.write_bytes(path.read_bytes() + b"\x00trailing camera data")
    assert load_image(path).shape == (30, 40, 3)


# ---------------------------------------------------------------------------------- helpers

def test_bbox_from_keypoints_pads_and_clips():
    kpts = np.array([[10, 20, 2], [30, 60, 1], [500, 500, 0]], np.float32)  # v=0 joint ignored
    assert np.allclose(bbox_from_keypoints(kpts, 100, 100), [8, 16, 24, 48])
    near_edge = np.array([[1, 1, 2], [41, 91, 2]], np.float32)
    assert np.allclose(bbox_from_keypoints(near_edge, 100, 95), [0, 0, 45, 95])  # clipped to the image
    assert not bbox_from_keypoints(np.zeros((3, 3), np.float32), 10, 10).any()


# ------------------------------------------------------------------------------- COCO format

MMPOSE = "mmpose_tests"
# file -> (keypoint set, images, persons, persons with keypoints)
COCO_FILES = {
    f"{MMPOSE}/coco/test_coco.json": ("coco17", 4, 14, 12),
    f"{MMPOSE}/coco/test_coco_wholebody.json": ("coco_wholebody133", 4, 14, 12),
    f"{MMPOSE}/coco/test_keypoint_partition_metric.json": ("coco_wholebody133", 4, 14, 12),
    f"{MMPOSE}/halpe/test_halpe.json": ("halpe136", 4, 14, 12),
    f"{MMPOSE}/crowdpose/test_crowdpose.json": ("crowdpose14", 2, 5, 4),
    f"{MMPOSE}/exlpose/test_exlpose.json": ("crowdpose14", 2, 6, 6),
    f"{MMPOSE}/ochuman/test_ochuman.json": ("coco17", 3, 5, 5),
    f"{MMPOSE}/aic/test_aic.json": ("test_aic", 3, 9, 9),
    f"{MMPOSE}/mhp/test_mhp.json": ("mpii16", 2, 4, 4),
    f"{MMPOSE}/humanart/test_humanart.json": ("coco17", 3, 4, 4),
    f"{MMPOSE}/jhmdb/test_jhmdb_sub1.json": ("test_jhmdb_sub1", 3, 3, 3),
    f"{MMPOSE}/mpii/test_mpii_trb.json": ("test_mpii_trb", 5, 5, 5),
    f"{MMPOSE}/posetrack18/annotations/test_posetrack18_val.json": ("test_posetrack18_val", 3, 14, 14),
    "xtcocoapi/example_coco_val.json": ("coco17", 4, 14, 12),
    "xtcocoapi/example_crowdpose_val.json": ("crowdpose14", 4, 10, 9),
    "xtcocoapi/example_wholebody_val.json": ("coco_wholebody133", 5, 26, 24),
}


@pytest.mark.parametrize("relpath", sorted(COCO_FILES))
def test_read_coco_fixtures(fixtures_root, relpath):
    set_name, images, persons, with_keypoints = COCO_FILES[relpath]
    path = fixtures_root / relpath
    data = read_coco(path)
    raw = json.loads(path.read_text())
    assert data.keypoint_set.name == set_name
    assert len(data) == images == len(raw["images"])
    assert data.num_persons == persons == len(raw["annotations"])
    assert sum(p.num_keypoints > 0 for r in data.records for p in r.persons) == with_keypoints
    k = data.keypoint_set.num_keypoints
    for record in data.records:
        assert Path(record.file_name).is_absolute()
        for person in record.persons:
            assert person.keypoints.shape == (k, 3) and set(np.unique(person.keypoints[:, 2])) <= {0, 1, 2}


def test_files_that_are_not_coco_annotations_are_refused(fixtures_root):
    for relpath in (f"{MMPOSE}/coco/test_coco_det_AP_H_56.json", "xtcocoapi/example_coco_preds.json"):
        with pytest.raises(DataError, match="not a COCO annotation file"):
            read_coco(fixtures_root / relpath)
    # UBody-3D stores keypoints as nested [x, y] pairs, not COCO's flat x, y, v list.
    with pytest.raises(DataError, match="flat list"):
        read_coco(fixtures_root / MMPOSE / "ubody3d/ubody3d_train.json")


def test_wholebody_parts_are_concatenated_in_order(fixtures_root):
    path = fixtures_root / "xtcocoapi/example_wholebody_val.json"
    data = read_coco(path)
    persons = {p.id: p for r in data.records for p in r.persons}
    for ann in json.loads(path.read_text())["annotations"]:
        kpts = persons[ann["id"]].keypoints
        start = 0
        for key, count in (("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21),
                           ("righthand_kpts", 21)):
            raw = np.asarray(ann[key], np.float32).reshape(count, 3)
            assert np.array_equal(kpts[start:start + count, :2], raw[:, :2]), key
            assert np.array_equal(kpts[start:start + count, 2] > 0, raw[:, 2] > 0), key
            start += count


def test_coco_subset_counts_crowds_and_unlabelled_persons(coco_subset):
    data = read_coco(coco_subset / "person_keypoints_merged.json")
    persons = [p for r in data.records for p in r.persons]
    assert (len(data), len(persons)) == (275, 622)
    assert sum(p.num_keypoints > 0 for p in persons) == 312
    crowds = [p for p in persons if p.iscrowd]
    assert len(crowds) == 16 and all(p.segmentation for p in crowds)
    assert data.records[0].file_name == str(coco_subset / "images" / "000000000139.jpg")  # images/ beside JSON


def _coco_json(tmp_path: Path, annotations: list, categories=None, name="ann.json") -> Path:
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
           "annotations": annotations,
           "categories": categories if categories is not None else
           [{"id": 1, "name": "person", "keypoints": []}]}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _ann(ann_id: int, k: int, **extra) -> dict:
    kpts = [v for i in range(k) for v in (10 + i, 20 + i, 2)]
    return {"id": ann_id, "image_id": 1, "category_id": 1, "keypoints": kpts, **extra}


def test_read_coco_defaults_and_person_without_keypoints(tmp_path):
    path = _coco_json(tmp_path, [_ann(5, 17, bbox=[1, 2, 3, 4], area=9.5, iscrowd=0),
                                 {"id": 6, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 10, 10],
                                  "segmentation": {"counts": "abc", "size": [80, 100]}}])
    data = read_coco(path)
    assert data.keypoint_set.name == "coco17"  # by count: the category names no keypoints
    record = data.records[0]
    assert record.file_name == str(tmp_path / "a.jpg")  # no images/ folder: the JSON's folder
    first, crowd = record.persons
    assert first.id == 5 and np.allclose(first.bbox, [1, 2, 3, 4]) and first.area == 9.5
    assert np.array_equal(first.keypoints[3], [13, 23, 2])
    assert crowd.iscrowd and crowd.num_keypoints == 0 and crowd.area == 100 and crowd.segmentation["counts"] == "abc"
    (tmp_path / "images").mkdir()
    assert read_coco(path).records[0].file_name == str(tmp_path / "images" / "a.jpg")
    assert read_coco(path, image_root=tmp_path / "x").records[0].file_name == str(tmp_path / "x" / "a.jpg")


def test_image_paths_stay_inside_the_image_root_unless_allowed(tmp_path):
    path = _coco_json(tmp_path, [_ann(1, 17)])
    doc = json.loads(path.read_text())
    root = tmp_path / "imgs"
    for name in ("../a.jpg", "sub/../../a.jpg", "/etc/passwd", "/dev/zero"):
        doc["images"][0]["file_name"] = name
        path.write_text(json.dumps(doc))
        with pytest.raises(DataError, match=r"ann\.json: images\[0\]: 'file_name' .* outside the image root"):
            read_coco(path, image_root=root)
        assert read_coco(path, image_root=root, allow_absolute_paths=True).records[0].file_name.endswith(
            name.split("/")[-1])
    for name, inside in (("sub/../b.jpg", "b.jpg"), (str(root / "c.jpg"), "c.jpg")):
        doc["images"][0]["file_name"] = name
        path.write_text(json.dumps(doc))
        assert read_coco(path, image_root=root).records[0].file_name == str(root / inside)


def test_read_coco_infers_14_joint_sets_by_names(tmp_path):
    crowd_names = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                   "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck"]
    path = _coco_json(tmp_path, [_ann(1, 14)], [{"id": 1, "name": "person", "keypoints": crowd_names}])
    assert read_coco(path).keypoint_set.name == "crowdpose14"
    lsp_names = ["Right ankle", "Right knee", "Right hip", "Left hip", "Left knee", "Left ankle", "Right wrist",
                 "Right elbow", "Right shoulder", "Left shoulder", "Left elbow", "Left wrist", "Neck", "Head top"]
    path = _coco_json(tmp_path, [_ann(1, 14)], [{"id": 1, "name": "person", "keypoints": lsp_names}])
    assert read_coco(path).keypoint_set.name == "lsp14"
    path = _coco_json(tmp_path, [_ann(1, 14)])
    with pytest.raises(DataError, match="ambiguous"):
        read_coco(path)
    assert read_coco(path, keypoint_set="lsp14").keypoint_set.name == "lsp14"


def test_set_built_from_an_unknown_category(tmp_path):
    names = ["Head", "Left hand", "Right hand"]
    path = _coco_json(tmp_path, [_ann(1, 3)],
                      [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[1, 2], [1, 3]]}], "toy.json")
    kset = read_coco(path).keypoint_set
    assert kset.name == "toy" and kset.names == ("head", "left_hand", "right_hand")
    assert kset.flip_pairs == ((1, 2),) and kset.skeleton == ((0, 1), (0, 2)) and kset.sigmas is None


@pytest.mark.parametrize("text, message", [
    ("{not json", "malformed JSON"),
    ('{"images": []}', "missing key 'annotations'"),
    ('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}', "is missing key 'width'"),
    ('{"images": [], "annotations": [{"id": 3, "category_id": 1, "keypoints": [1, 2, 2]}]}',
     "annotation id 3 is missing key 'image_id'"),
    ('{"images": [], "annotations": [{"id": 4, "image_id": 9, "keypoints": [1, 2, 2]}]}', "image_id 9"),
])
def test_read_coco_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_coco(path, keypoint_set="coco17")
    assert str(path) in str(info.value) and message in str(info.value)


def test_keypoint_count_mismatch_names_file_and_annotation(tmp_path):
    path = _coco_json(tmp_path, [_ann(1, 17), _ann(77, 16)])
    with pytest.raises(DataError) as info:
        read_coco(path)
    assert str(path) in str(info.value) and "annotation id 77" in str(info.value) and "coco17" in str(info.value)
    with pytest.raises(DataError, match="annotation id 1 has 17 keypoints"):
        read_coco(_coco_json(tmp_path, [_ann(1, 17)]), keypoint_set="mpii16")


# ----------------------------------------------------------------------------------- LSP/LSPET

def test_read_lsp_split_and_visibility(lsp_root):
    train, test = read_lsp(lsp_root, "train"), read_lsp(lsp_root, "test")
    assert (len(train), len(test)) == (1000, 1000)
    assert [r.image_id for r in train.records] == list(range(1, 1001))
    assert test.records[0].file_name.endswith("im1001.jpg")
    joints = scipy.io.loadmat(str(lsp_root / "joints.mat"))["joints"]  # (3, 14, 2000), flag 0 = visible
    for data, offset in ((train, 0), (test, 1000)):
        kpts = np.stack([r.persons[0].keypoints for r in data.records])
        raw = joints[:, :, offset:offset + 1000].transpose(2, 1, 0)
        assert np.allclose(kpts[..., :2], raw[..., :2])
        assert np.array_equal(kpts[..., 2] == 2, raw[..., 2] == 0)
        assert np.array_equal(kpts[..., 2] == 1, raw[..., 2] == 1)  # occluded but labelled: v = 1
    person, record = train.records[0].persons[0], train.records[0]
    assert (record.width, record.height) == (70, 160)  # im0001.jpg, from its header
    lo, hi = person.keypoints[:, :2].min(0), person.keypoints[:, :2].max(0)
    pad = 0.1 * (hi - lo)
    x1, y1 = np.maximum(lo - pad, 0)
    x2, y2 = np.minimum(hi + pad, [70, 160])
    assert np.allclose(person.bbox, [x1, y1, x2 - x1, y2 - y1], atol=1e-4)
    assert person.area == pytest.approx(person.bbox[2] * person.bbox[3])
    with pytest.raises(DataError, match="unknown split"):
        read_lsp(lsp_root, "val")


def test_read_lspet_real(lspet_root):
    data = read_lspet(lspet_root)
    assert len(data) == 8000 and data.records[-1].image_id == 8000
    raw = scipy.io.loadmat(str(lspet_root / "joints.mat"))["joints"][:, :, :8000].transpose(2, 0, 1)
    kpts = np.stack([r.persons[0].keypoints for r in data.records])
    assert not kpts[raw[..., 2] == 0].any()  # unannotated: v = 0 and no coordinates
    good = (raw[..., 2] == 1) & (raw[..., :2] >= 0).all(-1)
    assert np.array_equal(kpts[..., 2] == 2, good) and np.allclose(kpts[good][:, :2], raw[good][:, :2])
    assert len(read_lspet(lspet_root, limit=5)) == 5


def test_read_lspet_skips_missing_images(tmp_path):
    joints = np.zeros((14, 3, 3))
    joints[:, 0, :] = 10 + np.arange(14)[:, None]
    joints[:, 1, :] = 20
    joints[:, 2, :] = 1
    joints[0, :, 0] = (0, -26.1, 1)  # LSPET's filler for an unannotated joint, flagged 1 anyway
    joints[1, 2, 0] = 0
    scipy.io.savemat(str(tmp_path / "joints.mat"), {"joints": joints})
    _write_jpeg(tmp_path / "images" / "im00001.jpg")
    _write_jpeg(tmp_path / "images" / "im00003.jpg")
    data = read_lspet(tmp_path)
    assert [r.image_id for r in data.records] == [1, 3]
    kpts = data.records[0].persons[0].keypoints
    assert not kpts[:2].any() and (kpts[2:, 2] == 2).all()
    assert (data.records[0].width, data.records[0].height) == (40, 30)


def test_leeds_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="joints.mat: joints file not found"):
        read_lsp(tmp_path)
    scipy.io.savemat(str(tmp_path / "joints.mat"), {"joints": np.zeros((14, 3, 5))})
    with pytest.raises(DataError, match=r"joints.mat: LSP 'joints' should have shape \(3, 14, 2000\)"):
        read_lsp(tmp_path)
    with pytest.raises(DataError, match="cannot list the image folder"):
        read_lspet(tmp_path)


# ----------------------------------------------------------------------------------------- MPII

def test_read_mpii_fixture(fixtures_root):
    path = fixtures_root / MMPOSE / "mpii/test_mpii.json"
    data = read_mpii(path)
    raw = json.loads(path.read_text())
    assert data.keypoint_set.name == "mpii16" and data.num_persons == len(raw) == 5
    persons = {p.id: (p, r) for r in data.records for p in r.persons}
    for index, entry in enumerate(raw):
        person, record = persons[index]
        assert record.image_id == int(entry["image"].split(".")[0])
        vis = np.asarray(entry["joints_vis"]) > 0
        assert np.allclose(person.keypoints[vis, :2], np.asarray(entry["joints"])[vis] - 1)  # 1-based -> 0-based
        assert np.array_equal(person.keypoints[:, 2], np.where(vis, 2, 0)) and not person.keypoints[~vis].any()
        x, y, w, h = person.bbox
        assert (w, h) == pytest.approx((200 * entry["scale"],) * 2, rel=1e-5)
        assert (x + w / 2, y + h / 2) == pytest.approx((entry["center"][0] - 1, entry["center"][1] - 1), rel=1e-5)
    assert (data.records[0].width, data.records[0].height) == cv2.imread(data.records[0].file_name).shape[1::-1]


def test_mpii_head_sizes(tmp_path):
    boxes = np.zeros((2, 2, 2))
    boxes[0, :, 0], boxes[1, :, 0] = (10, 20), (40, 60)  # 30 x 40 head box: diagonal 50
    boxes[0, :, 1], boxes[1, :, 1] = (0, 0), (6, 8)
    scipy.io.savemat(str(tmp_path / "gt.mat"), {"headboxes_src": boxes})
    assert np.allclose(read_mpii_head_sizes(tmp_path / "gt.mat"), [30, 6])
    scipy.io.savemat(str(tmp_path / "bad.mat"), {"other": boxes})
    with pytest.raises(DataError, match="bad.mat: expected array 'headboxes_src'"):
        read_mpii_head_sizes(tmp_path / "bad.mat")


def test_read_mpii_errors(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"image": "1.jpg", "joints": [[1, 2]] * 14, "joints_vis": [1] * 14}]))
    with pytest.raises(DataError, match="entry 0 .* MPII has 16 joints"):
        read_mpii(path)
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="expected a list"):
        read_mpii(path)
