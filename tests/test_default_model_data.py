"""The default model's data splits (tools/default_model_data.py): what each stage trains on, and that
the held-out parts never leak into training."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import DATA, REPO, require

sys.path.insert(0, str(REPO / "tools"))
from default_model_data import COCO_COPIES, LSP_COPIES, LSP_COPIES_LATE, coco_split, prepare  # noqa: E402


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    """The data files, written once for this module's tests (reading LSPET takes most of a minute)."""
    require(DATA / "lspet")
    require(DATA / "coco_subset")
    return prepare(require(DATA / "lsp").parent.resolve(), tmp_path_factory.mktemp("default_model_data"))


def test_splits_keep_the_held_out_parts_out_and_frame_lspet_as_users_do(prepared):
    paths = prepared
    splits = {name: json.loads(path.read_text()) for name, path in paths.items()}
    images = {name: {im["id"]: im for im in s["images"]} for name, s in splits.items()}

    def files(name: str) -> set[str]:
        return {im["file_name"] for im in splits[name]["images"]}

    held_out = files("val") | files("test")
    late = [f"train_coco_lsp{n}" for n in LSP_COPIES_LATE]
    for name in ("train", "train_lsp", "train_framed", "train_coco", *late):
        assert not files(name) & held_out, name
    for name in ("train_coco", *late):
        assert not files(name) & files("val_coco"), name
    assert len(files("test")) == 1000 and len(files("val")) == 1000
    assert max(int(f[-9:-4]) for f in files("val")) == 8000 and min(int(f[-9:-4]) for f in files("val")) == 7001

    framed = splits["train_framed"]["annotations"]
    assert len(framed) == len(splits["train"]["annotations"]) + 7000
    assert len({a["id"] for a in framed}) == len(framed) and len(images["train_framed"]) == len(framed)
    whole = [a for a in framed if a["bbox"][:2] == [0.0, 0.0]
             and a["bbox"][2:] == [images["train_framed"][a["image_id"]]["width"],
                                   images["train_framed"][a["image_id"]]["height"]]]
    # The 7,000 LSPET photos framed as a whole, each also present with its joints' box.
    assert len(whole) == 7000 and all(images["train_framed"][a["image_id"]]["file_name"].startswith("lspet/")
                                      for a in whole)
    whole_ids = {a["id"] for a in whole}
    joint_boxed = {images["train_framed"][a["image_id"]]["file_name"] for a in framed if a["id"] not in whole_ids}
    assert {images["train_framed"][a["image_id"]]["file_name"] for a in whole} <= joint_boxed


def test_coco_persons_join_in_lsp14_with_their_box_and_a_held_out_part(prepared):
    data_root = require(DATA / "lsp").parent.resolve()
    train, held_out = coco_split(data_root)
    assert train.keypoint_set.name == held_out.keypoint_set.name == "lsp14"
    names = train.keypoint_set.names
    persons = [p for r in train.records + held_out.records for p in r.persons]
    # 188 + 46 persons with at least 4 of the 12 limb joints; COCO has no neck or head top to give.
    assert (sum(len(r.persons) for r in train.records), sum(len(r.persons) for r in held_out.records)) == (188, 46)
    assert all(p.keypoints[[names.index("neck"), names.index("head_top")], 2].max() == 0 for p in persons)
    assert all((p.keypoints[:, 2] > 0).sum() >= 4 and not p.iscrowd for p in persons)
    assert not {r.image_id for r in train.records} & {r.image_id for r in held_out.records}

    # One person checked against the raw COCO file: its left wrist lands on LSP-14's left wrist, its box kept.
    raw = json.loads((data_root / "coco_subset" / "person_keypoints_merged.json").read_text())
    person = train.records[0].persons[0]
    ann = next(a for a in raw["annotations"] if a["id"] == person.id)
    coco_names = raw["categories"][0]["keypoints"]
    k = coco_names.index("left_wrist")
    assert person.keypoints[names.index("left_wrist")].tolist() == ann["keypoints"][3 * k:3 * k + 3]
    assert np.allclose(person.bbox, ann["bbox"])

    # In stage 10's file, COCO_COPIES copies of each training person under ids that collide with nothing.
    anns = json.loads(prepared["train_coco"].read_text())["annotations"]
    assert sum(a["image_id"] >= 1_000_000 for a in anns) == COCO_COPIES * 188
    assert len({a["id"] for a in anns}) == len(anns)


@pytest.mark.parametrize("late", LSP_COPIES_LATE)
def test_stages_17_19_drop_lsp_copies_and_keep_every_other_person(prepared, late):
    def annotations(name: str) -> list[dict]:
        return json.loads(prepared[name].read_text())["annotations"]

    def lsp_train(anns: list[dict]) -> list[dict]:  # LSP train copies hold image ids below 100,000
        return [a for a in anns if a["image_id"] < 100_000]

    full, fewer = annotations("train_coco"), annotations(f"train_coco_lsp{late}")
    assert (len(lsp_train(full)), len(lsp_train(fewer))) == (1000 * LSP_COPIES, 1000 * late)
    rest = {a["id"] for a in full if a["image_id"] >= 100_000}
    assert {a["id"] for a in fewer if a["image_id"] >= 100_000} == rest
    assert len(fewer) == len(full) - 1000 * (LSP_COPIES - late) == {4: 19_316, 3: 18_316, 2: 17_316}[late]
    # Each of the 1,000 LSP training photos is still there, `late` times.
    names = {im["id"]: im["file_name"] for im in json.loads(prepared[f"train_coco_lsp{late}"].read_text())["images"]}
    counts = {}
    for a in lsp_train(fewer):
        counts[names[a["image_id"]]] = counts.get(names[a["image_id"]], 0) + 1
    assert len(counts) == 1000 and set(counts.values()) == {late}
