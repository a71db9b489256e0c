"""Built-in keypoint sets (flip pairs, sigmas against the official definitions), name-based
mapping between sets, and validation of custom set files."""
from __future__ import annotations

import numpy as np
import pytest

from posekit.keypoints import (KeypointSetError, canonical_keypoint_name, find_keypoint_set, get_keypoint_set,
                               remap_keypoints, union_mapping)

FACE_CENTRE_LINE = {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}  # iBUG-68 points on the face's mid-line


def _mirror_name(name: str) -> str:
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


@pytest.mark.parametrize("name, count, face_start, hand_start", [
    ("coco_wholebody133", 133, 23, 91), ("halpe136", 136, 26, 94)])
def test_whole_body_layout_and_flip_pairs(name, count, face_start, hand_start):
    kset = get_keypoint_set(name)
    assert kset.num_keypoints == count and len(kset.sigmas) == count
    assert kset.names[face_start] == "face-0" and kset.names[face_start + 67] == "face-67"
    assert kset.names[hand_start] == "left_hand_root" and kset.names[hand_start + 21] == "right_hand_root"
    assert kset.names[-1] == "right_pinky_finger4"
    flip = kset.flip_index
    assert np.array_equal(flip[flip], np.arange(count))  # an involution
    paired = set()
    for a, b in kset.flip_pairs:
        paired.update((a, b))
        if kset.names[a].startswith("face-"):
            i, j = a - face_start, b - face_start
            # The iBUG layout mirrors jaw 0..16 end to end, brows 17..26 end to end, and so on.
            expected = {**{k: 16 - k for k in range(17)}, **{k: 43 - k for k in range(17, 27)},
                        31: 35, 32: 34, 36: 45, 37: 44, 38: 43, 39: 42, 40: 47, 41: 46,
                        48: 54, 49: 53, 50: 52, 55: 59, 56: 58, 60: 64, 61: 63, 65: 67}
            assert expected.get(i, expected.get(j)) in (i, j) and (expected.get(i) == j or expected.get(j) == i)
        else:
            assert kset.names[b] == _mirror_name(kset.names[a]), (kset.names[a], kset.names[b])
    # Every sided joint has its partner; exactly the face's centre line (and body centre) is unpaired.
    for i, n in enumerate(kset.names):
        if "left" in n or "right" in n:
            assert i in paired, n
    unpaired_face = {i - face_start for i in range(face_start, face_start + 68) if i not in paired}
    assert unpaired_face == FACE_CENTRE_LINE


def test_whole_body_sigmas_match_official_values():
    wb = get_keypoint_set("coco_wholebody133").sigmas_array
    coco = get_keypoint_set("coco17").sigmas_array
    assert np.allclose(wb[:17], coco)
    assert np.allclose(wb[17:23], [0.068, 0.066, 0.066, 0.092, 0.094, 0.094])
    assert wb[23] == 0.042 and wb[23 + 47] == 0.034 and wb[90] == 0.008  # face: first, the 0.034 outlier, last
    assert np.array_equal(wb[91:112], wb[112:133]) and wb[91] == 0.029 and wb[95] == 0.047
    # Sum of the 133 values as published in one flat list (COCO-WholeBody evaluation code).
    assert wb.sum() == pytest.approx(3.861, abs=1e-9)
    halpe = get_keypoint_set("halpe136").sigmas_array
    assert np.allclose(halpe[:17], coco)
    assert np.allclose(halpe[17:20], 0.08) and np.allclose(halpe[20:26], 0.089) and np.allclose(halpe[26:], 0.015)


def test_canonical_names_and_aliases():
    assert canonical_keypoint_name("Head top") == "head_top"
    assert canonical_keypoint_name("top_head") == "head_top"
    assert canonical_keypoint_name("Right-ankle") == "right_ankle"
    assert canonical_keypoint_name("hip") == "pelvis"
    assert canonical_keypoint_name("left_hip") == "left_hip"


def test_union_mapping_between_14_joint_sets():
    mapping = dict(union_mapping("lsp14", "crowdpose14"))
    assert len(mapping) == 14
    assert mapping[13] == 12  # LSP head_top ~ CrowdPose top_head
    assert mapping[12] == 13  # neck
    assert mapping[0] == 11 and mapping[5] == 10  # right ankle, left ankle
    assert mapping[8] == 1 and mapping[9] == 0  # right shoulder, left shoulder


def test_union24_takes_mpii_coco_and_lsp():
    mpii = dict(union_mapping("mpii16", "union24"))
    assert mpii[6] == 0 and mpii[7] == 8 and mpii[8] == 10 and mpii[9] == 13  # pelvis thorax upper_neck head_top
    assert len(mpii) == 16
    coco = dict(union_mapping("coco17", "union24"))
    assert len(coco) == 17 and coco[0] == 11 and coco[1] == 21 and coco[2] == 20
    assert dict(union_mapping("lsp14", "union24"))[12] == 9  # LSP neck -> neck, not upper_neck
    union = get_keypoint_set("union24")
    assert len(union.flip_pairs) == 8


def test_halpe_to_wholebody_maps_by_name_not_position():
    mapping = dict(union_mapping("halpe136", "coco_wholebody133"))
    assert len(mapping) == 17 + 6 + 68 + 42  # head, neck, hip have no whole-body counterpart
    assert mapping[20] == 17 and mapping[21] == 20  # left_big_toe, right_big_toe (orders differ)
    assert mapping[26] == 23 and mapping[94] == 91 and mapping[135] == 132


def test_remap_keypoints_fills_missing_with_zero():
    kpts = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3) + 1
    out = remap_keypoints(kpts, "coco17", "union24")
    assert out.shape == (2, 24, 3)
    assert np.array_equal(out[:, 11], kpts[:, 0])  # nose
    assert np.array_equal(out[:, 3], kpts[:, 16])  # right ankle
    assert not out[:, [0, 7, 8, 9, 10, 12, 13]].any()  # pelvis, belly, thorax, necks, head, head top
    lsp = np.random.default_rng(0).random((3, 14, 3)).astype(np.float32)
    assert np.array_equal(remap_keypoints(remap_keypoints(lsp, "lsp14", "union24"), "union24", "lsp14"), lsp)
    with pytest.raises(KeypointSetError, match=r"\(N, 17, 3\)"):
        remap_keypoints(np.zeros((2, 14, 3)), "coco17", "union24")


# ------------------------------------------------------------------------------- custom files

def test_custom_set_loads(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("names: [a, left_x, right_x]\nflip_pairs: [[1, 2]]\nsigmas: [0.1, 0.2, 0.2]\n"
                    "skeleton: [[0, 1], [0, 2]]\n")
    kset = get_keypoint_set(str(path))
    assert kset.name == "mine" and kset.num_keypoints == 3
    assert list(kset.flip_index) == [0, 2, 1]


@pytest.mark.parametrize("suffix, text, message", [
    (".json", '{"names": ["a", "b", "c"], "flip_pairs": [[0, 1], [1, 2]]}', "not a symmetric"),
    (".json", '{"names": ["a", "b", "c"], "flip_pairs": [[0, 1], [1, 0]]}', "not a symmetric"),
    (".json", '{"names": ["a", "b", "c"], "flip_pairs": [[0, 3]]}', "out of range"),
    (".json", '{"names": ["a", "b", "c"], "sigmas": [0.1, 0.1]}', "2 sigmas for 3 keypoints"),
    (".yaml", "names: [a, b]\nflip_pairz: [[0, 1]]\n", "unknown key"),
    (".json", '{"names": ["a", "b"], ', "malformed"),
    (".yaml", "names: [a, b\n", "malformed"),
    (".json", '{"flip_pairs": []}', "missing required key 'names'"),
])
def test_custom_set_errors_name_the_file(tmp_path, suffix, text, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(KeypointSetError) as info:
        get_keypoint_set(str(path))
    assert str(path) in str(info.value) and message in str(info.value)


def test_find_keypoint_set_by_names() -> None:
    """Files name their keypoints in their own spelling: matched by canonical name and order, with
    CrowdPose's 'head' for 'head_top'; an unknown list or another order finds nothing."""
    coco = get_keypoint_set("coco17")
    assert find_keypoint_set([n.replace("_", " ").title() for n in coco.names]) is coco
    crowd = get_keypoint_set("crowdpose14")
    spelled = [("head" if canonical_keypoint_name(n) == "head_top" else n) for n in crowd.names]
    assert "head" in spelled and find_keypoint_set(spelled) is crowd
    assert find_keypoint_set(list(reversed(coco.names))) is None
    assert find_keypoint_set(["tail", "fin"]) is None
