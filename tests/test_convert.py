"""PoseData -> COCO JSON, round trips through read_coco and pycocotools, and `posekit convert`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io
from pycocotools.coco import COCO

from posekit.cli import main
from posekit.data.convert import to_coco_dict, write_coco
from posekit.data.readers import read_coco, read_lsp, read_lspet
from posekit.data.records import ImageRecord, Person, PoseData
from posekit.keypoints import get_keypoint_set


def _toy() -> PoseData:
    kpts = np.zeros((17, 3), np.float32)
    kpts[0] = (10.25, 20.5, 2)
    kpts[16] = (30, 40, 1)
    persons = [Person(kpts, np.array([5, 6, 30, 40], np.float32), area=1200, id=7),
               Person(np.zeros((17, 3), np.float32), np.array([0, 0, 50, 50], np.float32), area=2500,
                      iscrowd=True, id=8, segmentation={"counts": "xyz", "size": [100, 120]})]
    return PoseData([ImageRecord(3, "/data/imgs/a.jpg", 120, 100, persons),
                     ImageRecord(4, "/data/imgs/b.jpg", 64, 48)], get_keypoint_set("coco17"), "toy")


def test_to_coco_dict_layout():
    doc = to_coco_dict(_toy())
    assert doc["images"] == [{"id": 3, "file_name": "/data/imgs/a.jpg", "width": 120, "height": 100},
                             {"id": 4, "file_name": "/data/imgs/b.jpg", "width": 64, "height": 48}]
    first, crowd = doc["annotations"]
    assert first["keypoints"][:3] == [10.25, 20.5, 2] and first["keypoints"][48:] == [30.0, 40.0, 1]
    assert len(first["keypoints"]) == 51 and first["num_keypoints"] == 2
    assert (first["id"], first["image_id"], first["category_id"], first["iscrowd"]) == (7, 3, 1, 0)
    assert first["bbox"] == [5, 6, 30, 40] and first["area"] == 1200 and "segmentation" not in first
    assert crowd["iscrowd"] == 1 and crowd["num_keypoints"] == 0 and crowd["segmentation"]["counts"] == "xyz"
    (category,) = doc["categories"]
    assert category["name"] == "person" and category["keypoints"][16] == "right_ankle"
    assert category["skeleton"][0] == [16, 14]  # coco17's first link (15, 13), written 1-based
    assert to_coco_dict(_toy(), image_root="/data")["images"][0]["file_name"] == "imgs/a.jpg"


def test_duplicate_person_ids_are_renumbered():
    data = _toy()
    data.records[0].persons[1].id = 7
    assert [a["id"] for a in to_coco_dict(data)["annotations"]] == [1, 2]


def test_write_coco_is_atomic_and_pycocotools_reads_it(tmp_path):
    out = tmp_path / "sub" / "toy.json"
    out.parent.mkdir()
    out.write_text("old")
    write_coco(_toy(), out)
    assert [p.name for p in out.parent.iterdir()] == ["toy.json"]  # replaced, no temporary left behind
    coco = COCO(str(out))
    assert len(coco.getImgIds()) == 2 and len(coco.getAnnIds(iscrowd=False)) == 1
    back = read_coco(out, allow_absolute_paths=True)  # write_coco writes absolute paths by default
    assert back.keypoint_set.name == "coco17"
    assert np.array_equal(back.records[0].persons[0].keypoints, _toy().records[0].persons[0].keypoints)
    assert back.records[0].persons[1].iscrowd and back.records[1].persons == []


def test_lsp_round_trip(lsp_root, tmp_path):
    data = read_lsp(lsp_root, "test")
    back = read_coco(write_coco(data, tmp_path / "lsp_test.json"), keypoint_set="lsp14", allow_absolute_paths=True)
    assert len(back) == 1000
    for a, b in zip(data.records, back.records):
        assert (a.image_id, a.file_name, a.width, a.height) == (b.image_id, b.file_name, b.width, b.height)
        pa, pb = a.persons[0], b.persons[0]
        assert np.allclose(pa.keypoints, pb.keypoints, atol=1e-3) and np.allclose(pa.bbox, pb.bbox, atol=1e-2)
    # Without the hint the names in the written category identify the set.
    assert read_coco(tmp_path / "lsp_test.json", allow_absolute_paths=True).keypoint_set.name == "lsp14"


def test_wholebody_round_trip_keeps_the_part_layout(fixtures_root, tmp_path):
    data = read_coco(fixtures_root / "xtcocoapi/example_wholebody_val.json")
    out = write_coco(data, tmp_path / "wb.json")
    ann = json.loads(out.read_text())["annotations"][0]
    assert [len(ann[k]) for k in ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")] == \
        [51, 18, 204, 63, 63]
    back = read_coco(out, allow_absolute_paths=True)
    assert back.keypoint_set.name == "coco_wholebody133"
    for a, b in zip(data.records, back.records):
        for pa, pb in zip(a.persons, b.persons):
            assert np.allclose(pa.keypoints, pb.keypoints, atol=1e-3)


def _tiny_lspet(root):
    import cv2
    joints = np.ones((14, 3, 2))
    joints[:, :2, :] = 5 + np.arange(14)[:, None, None]
    scipy.io.savemat(str(root / "joints.mat"), {"joints": joints})
    (root / "images").mkdir()
    for i in (1, 2):
        cv2.imwrite(str(root / "images" / f"im{i:05d}.jpg"), np.zeros((24, 32, 3), np.uint8))


def test_cli_convert_lspet(tmp_path, capsys):
    _tiny_lspet(tmp_path)
    out = tmp_path / "out" / "lspet.json"
    assert main(["convert", "lspet", str(tmp_path), str(out), "--relative-to", str(tmp_path / "images"),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written"][0] == {"file": str(out), "images": 2, "persons": 2, "labelled_keypoints": 28}
    doc = json.loads(out.read_text())
    assert [im["file_name"] for im in doc["images"]] == ["im00001.jpg", "im00002.jpg"]
    back = read_coco(out, image_root=tmp_path / "images")
    assert np.allclose(back.records[1].persons[0].keypoints, read_lspet(tmp_path).records[1].persons[0].keypoints)


def test_cli_convert_lsp_writes_the_standard_split(lsp_root, tmp_path, capsys):
    assert main(["convert", "lsp", str(lsp_root), str(tmp_path / "lsp.json")]) == 0
    assert "wrote" in capsys.readouterr().out
    train = json.loads((tmp_path / "lsp_train.json").read_text())
    test = json.loads((tmp_path / "lsp_test.json").read_text())
    assert (len(train["images"]), len(test["images"])) == (1000, 1000)
    assert train["images"][-1]["file_name"].endswith("im1000.jpg") and test["images"][0]["id"] == 1001


def test_cli_convert_errors(tmp_path, capsys):
    assert main(["convert", "lsp", str(tmp_path), str(tmp_path / "o.json")]) == 2
    assert f"{tmp_path}/joints.mat: joints file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert"])  # a sub-verb is required
