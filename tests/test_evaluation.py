"""Evaluation: OKS AP through xtcocotools checked against pycocotools and direct xtcocotools calls on
the extended COCO API's own example pairs; PCK on hand-computed cases."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import warnings

import numpy as np
import pytest

from posekit.data.records import DataError, ImageRecord, Person
from posekit.evaluation import (
    COCO_STAT_NAMES, CROWDPOSE_STAT_NAMES, CocoEvaluator, PCKEvaluator, evaluate_coco, evaluate_wholebody,
    flat_to_wholebody_parts, pck, pck_by_group, torso_normaliser,
)
from posekit.keypoints import get_keypoint_set

PARTS = ("body", "foot", "face", "lefthand", "righthand")
PART_FIELDS = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
PART_SIZES = (17, 6, 68, 21, 21)


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def _xtcocotools_stats(gt_file, res_file, iou_type, sigmas, use_area):
    # The reference: xtcocotools called directly, the way its own demos do.
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval
    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = COCO(str(gt_file))
        dt = gt.loadRes(str(res_file))
        ev = COCOeval(gt, dt, iou_type, np.asarray(sigmas), use_area=use_area)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


SUMMARY_LINE = re.compile(r"Average (?:Precision|Recall)\s+\((AP|AR)\) @\[ IoU=(\S+)\s*\| (?:area|type)=\s*(\w+)"
                          r" \| maxDets=\s*\d+ \] =\s*(-?[\d.]+)")
IOU_SUFFIX = {"0.50:0.95": "", "0.50": "50", "0.75": "75"}
RANGE_SUFFIX = {"all": "", "medium": "m", "large": "l", "easy": "(E)", "hard": "(H)"}


def _printed_stats(text: str, crowd: bool) -> dict[str, float]:
    """Labels read off COCOeval's own printed summary, to check ours name the right numbers."""
    stats = {}
    for kind, iou, rng, value in SUMMARY_LINE.findall(text):
        suffix = "(M)" if crowd and rng == "medium" else RANGE_SUFFIX[rng]
        stats[kind + IOU_SUFFIX[iou] + suffix] = float(value)
    return stats


def test_coco_example_matches_pycocotools(xtcoco):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt_file, res_file = xtcoco / "example_coco_val.json", xtcoco / "example_coco_preds.json"
    sigmas = get_keypoint_set("coco17").sigmas_array
    with _quiet():
        gt = COCO(str(gt_file))
        ev = COCOeval(gt, gt.loadRes(str(res_file)), "keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ours = evaluate_coco(gt_file, res_file, sigmas)
    assert list(ours) == list(COCO_STAT_NAMES)
    np.testing.assert_allclose([ours[k] for k in COCO_STAT_NAMES], ev.stats, rtol=0, atol=1e-12)
    assert (round(ours["AP"], 3), round(ours["AP50"], 3), round(ours["AR"], 3)) == (0.861, 0.993, 0.875)


def test_labels_match_what_cocoeval_prints(xtcoco, capsys):
    coco = evaluate_coco(xtcoco / "example_coco_val.json", xtcoco / "example_coco_preds.json",
                         get_keypoint_set("coco17").sigmas, verbose=True)
    printed = _printed_stats(capsys.readouterr().out, crowd=False)
    assert set(printed) == set(coco) and all(round(coco[k], 3) == v for k, v in printed.items())
    crowd = evaluate_coco(xtcoco / "example_crowdpose_val.json", xtcoco / "example_crowdpose_preds.json",
                          get_keypoint_set("crowdpose14").sigmas, "keypoints_crowd", use_area=False, verbose=True)
    printed = _printed_stats(capsys.readouterr().out, crowd=True)
    assert set(printed) == set(crowd) and all(round(crowd[k], 3) == v for k, v in printed.items())


def test_coco_in_memory_inputs_are_not_mutated_and_give_the_same_numbers(xtcoco):
    gt = json.loads((xtcoco / "example_coco_val.json").read_text())
    results = json.loads((xtcoco / "example_coco_preds.json").read_text())
    gt_copy, results_copy = copy.deepcopy(gt), copy.deepcopy(results)
    sigmas = get_keypoint_set("coco17").sigmas
    first = evaluate_coco(gt, results, sigmas)
    assert gt == gt_copy and results == results_copy
    assert evaluate_coco(gt, results, sigmas) == first == evaluate_coco(
        xtcoco / "example_coco_val.json", xtcoco / "example_coco_preds.json", sigmas)


def test_perfect_predictions_score_one(xtcoco):
    gt = json.loads((xtcoco / "example_coco_val.json").read_text())
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in gt["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    stats = evaluate_coco(gt, results, get_keypoint_set("coco17").sigmas)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)


def test_empty_results_score_zero_and_bad_results_are_named(xtcoco):
    gt_file = xtcoco / "example_coco_val.json"
    sigmas = get_keypoint_set("coco17").sigmas
    assert evaluate_coco(gt_file, [], sigmas) == {k: 0.0 for k in COCO_STAT_NAMES}
    stray = [{"image_id": 123456789, "category_id": 1, "keypoints": [0.0] * 51, "score": 1.0}]
    with pytest.raises(DataError, match=r"preds\.json.*not in the ground truth.*123456789"):
        evaluate_coco(gt_file, stray, sigmas, results_name="preds.json")
    image_id = json.loads(gt_file.read_text())["images"][0]["id"]
    short = [{"image_id": image_id, "category_id": 1, "keypoints": [0.0] * 42, "score": 1.0}]
    with pytest.raises(DataError, match="14 keypoints|42 numbers"):
        evaluate_coco(gt_file, short, sigmas)


def test_crowdpose_matches_xtcocotools_with_its_labels(xtcoco):
    gt_file, res_file = xtcoco / "example_crowdpose_val.json", xtcoco / "example_crowdpose_preds.json"
    sigmas = get_keypoint_set("crowdpose14").sigmas_array
    expected = _xtcocotools_stats(gt_file, res_file, "keypoints_crowd", sigmas, use_area=False)
    ours = evaluate_coco(gt_file, res_file, sigmas, "keypoints_crowd", use_area=False)
    assert list(ours) == list(CROWDPOSE_STAT_NAMES)
    np.testing.assert_allclose([ours[k] for k in CROWDPOSE_STAT_NAMES], expected, rtol=0, atol=1e-12)
    # In-memory GT goes through the same easy/medium/hard split.
    gt = json.loads(gt_file.read_text())
    assert evaluate_coco(gt, res_file, sigmas, "keypoints_crowd", use_area=False) == ours
    assert round(ours["AP"], 3) == 0.788 and ours["AP(E)"] == 1.0 and ours["AP(H)"] == pytest.approx(0.4116)
    predictions = [{"image_id": r["image_id"], "keypoints": np.asarray(r["keypoints"]).reshape(14, 3),
                    "score": r["score"]} for r in json.loads(res_file.read_text())]
    assert CocoEvaluator(gt, get_keypoint_set("crowdpose14")).evaluate(predictions) == ours


def test_crowdpose_gt_without_area_asks_for_use_area_false(xtcoco):
    with pytest.raises(DataError, match="use_area=False"):
        evaluate_coco(xtcoco / "example_crowdpose_val.json", [], get_keypoint_set("crowdpose14").sigmas)


def test_wholebody_set_sigmas_are_the_xtcocotools_ones():
    sigmas = get_keypoint_set("coco_wholebody133").sigmas_array
    np.testing.assert_allclose(sigmas[:17], get_keypoint_set("coco17").sigmas_array)
    np.testing.assert_allclose(sigmas[17:23], [0.068, 0.066, 0.066, 0.092, 0.094, 0.094])
    hand = [0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026,
            0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031]
    np.testing.assert_allclose(sigmas[91:112], hand)
    np.testing.assert_allclose(sigmas[112:133], hand)


def test_wholebody_per_part_matches_xtcocotools(xtcoco):
    gt_file, res_file = xtcoco / "example_wholebody_val.json", xtcoco / "example_wholebody_preds.json"
    sigmas = get_keypoint_set("coco_wholebody133").sigmas_array
    ours = evaluate_wholebody(gt_file, res_file, sigmas)
    cuts = np.cumsum((0,) + PART_SIZES)
    for i, part in enumerate(PARTS):
        expected = _xtcocotools_stats(gt_file, res_file, f"keypoints_{part}", sigmas[cuts[i]:cuts[i + 1]], True)
        np.testing.assert_allclose([ours[part][k] for k in COCO_STAT_NAMES], expected, rtol=0, atol=1e-12)
    expected = _xtcocotools_stats(gt_file, res_file, "keypoints_wholebody", sigmas, True)
    np.testing.assert_allclose([ours["wholebody"][k] for k in COCO_STAT_NAMES], expected, rtol=0, atol=1e-12)
    assert ours["hand"]["AP"] == pytest.approx((ours["lefthand"]["AP"] + ours["righthand"]["AP"]) / 2)
    assert round(ours["body"]["AP"], 3) == 0.854 and round(ours["wholebody"]["AP"], 3) == 0.642


def test_flat_wholebody_predictions_score_like_part_fields(xtcoco):
    gt = json.loads((xtcoco / "example_wholebody_val.json").read_text())
    preds = json.loads((xtcoco / "example_wholebody_preds.json").read_text())
    flat = [{"image_id": p["image_id"], "category_id": 1, "score": p["score"],
             "keypoints": sum((p[f] for f in PART_FIELDS), [])} for p in preds]
    sigmas = get_keypoint_set("coco_wholebody133").sigmas
    assert evaluate_wholebody(gt, flat, sigmas) == evaluate_wholebody(gt, preds, sigmas)
    parts = flat_to_wholebody_parts(np.arange(133 * 3, dtype=float).reshape(133, 3))
    assert parts["foot_kpts"][0] == 17 * 3 and parts["righthand_kpts"][-1] == 133 * 3 - 1
    with pytest.raises(ValueError, match="133 keypoints"):
        flat_to_wholebody_parts(np.zeros((17, 3)))
    empty = evaluate_wholebody(gt, [], sigmas)
    assert set(empty) == {"body", "foot", "face", "lefthand", "righthand", "hand", "wholebody"}
    assert all(v == 0.0 for stats in empty.values() for v in stats.values())


def test_coco_evaluator_matches_file_evaluation(xtcoco):
    gt = json.loads((xtcoco / "example_coco_val.json").read_text())
    results = json.loads((xtcoco / "example_coco_preds.json").read_text())
    predictions = [{"image_id": r["image_id"], "keypoints": np.asarray(r["keypoints"]).reshape(17, 3),
                    "score": r["score"]} for r in results]
    evaluator = CocoEvaluator(gt, get_keypoint_set("coco17"))
    assert evaluator.default_metric == "AP"
    expected = evaluate_coco(xtcoco / "example_coco_val.json", xtcoco / "example_coco_preds.json",
                             get_keypoint_set("coco17").sigmas)
    assert evaluator.evaluate(predictions) == expected
    assert evaluator.evaluate(predictions) == expected  # the held GT is not spoiled by a run


def test_coco_evaluator_wholebody_flattens_parts(xtcoco):
    gt = json.loads((xtcoco / "example_wholebody_val.json").read_text())
    preds = json.loads((xtcoco / "example_wholebody_preds.json").read_text())
    predictions = [{"image_id": p["image_id"], "score": p["score"],
                    "keypoints": np.asarray(sum((p[f] for f in PART_FIELDS), [])).reshape(133, 3)} for p in preds]
    kset = get_keypoint_set("coco_wholebody133")
    stats = CocoEvaluator(gt, kset).evaluate(predictions)
    reference = evaluate_wholebody(gt, preds, kset.sigmas)
    assert stats["AP"] == reference["wholebody"]["AP"] and stats["foot/AP"] == reference["foot"]["AP"]


# --- PCK -------------------------------------------------------------------------------------

def test_pck_hand_computed():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[1.0, 0.0], [0.0, 3.0], [5.0, 0.0]],
                     [[0.0, 0.0], [np.nan, np.nan], [0.0, 9.0]]])
    visible = np.array([[1, 1, 1], [1, 1, 0]])
    # Thresholds: 0.2 * 10 = 2 px for person 0, 0.2 * 20 = 4 px for person 1.
    result = pck(pred, gt, visible, np.array([10.0, 20.0]), alpha=0.2)
    # joint 0: 1 <= 2 yes, 0 <= 4 yes; joint 1: 3 > 2 no, NaN no; joint 2: 5 > 2 no, person 1 not visible.
    np.testing.assert_array_equal(result["correct"], [2, 0, 0])
    np.testing.assert_array_equal(result["count"], [2, 2, 1])
    np.testing.assert_allclose(result["per_joint"], [1.0, 0.0, 0.0])
    assert result["mean"] == pytest.approx(2 / 5)
    # Exactly on the threshold counts; a person with no length is left out.
    edge = pck(np.array([[[2.0, 0.0]], [[0.0, 0.0]]]), np.zeros((2, 1, 2)), np.ones((2, 1)), np.array([10.0, 0.0]))
    assert edge["count"][0] == 1 and edge["per_joint"][0] == 1.0


def test_lsp_groups_and_torso():
    kset = get_keypoint_set("lsp14")
    gt = np.zeros((1, 14, 2))
    gt[0, kset.index("right_shoulder")] = (0.0, 0.0)
    gt[0, kset.index("left_hip")] = (30.0, 40.0)
    visible = np.ones((1, 14))
    torso = torso_normaliser(gt, visible, kset)
    assert torso[0] == pytest.approx(50.0)
    pred = gt.copy()
    pred[0, kset.index("head_top")] += (11.0, 0.0)   # beyond 0.2 * 50 = 10 px
    pred[0, kset.index("left_wrist")] += (0.0, 10.0)  # exactly 10 px: counts
    pred[0, kset.index("right_ankle")] += (8.0, 8.0)  # 11.3 px: misses
    groups = pck_by_group(pck(pred, gt, visible, torso, 0.2), kset)
    assert list(groups) == ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total", "limbs"]
    assert groups["head"] == 0.5 and groups["wrist"] == 1.0 and groups["ankle"] == 0.5
    assert groups["total"] == pytest.approx(12 / 14)
    assert groups["limbs"] == pytest.approx(11 / 12)  # the 12 limb joints: the head top's miss is not among them
    unlabelled = visible.copy()
    unlabelled[0, kset.index("left_hip")] = 0
    assert torso_normaliser(gt, unlabelled, kset)[0] == 0.0


def test_mpii_pckh_total_leaves_out_pelvis_and_thorax():
    kset = get_keypoint_set("mpii16")
    gt = np.zeros((1, 16, 2))
    pred = gt.copy()
    pred[0, kset.index("pelvis")] = (100.0, 0.0)
    pred[0, kset.index("thorax")] = (100.0, 0.0)
    groups = pck_by_group(pck(pred, gt, np.ones((1, 16)), np.array([30.0]), alpha=0.5), kset)
    assert groups["total"] == 1.0 and groups["head"] == 1.0
    # CrowdPose's 'top_head' joins the head group under its canonical name.
    crowd = get_keypoint_set("crowdpose14")
    result = pck(np.zeros((1, 14, 2)), np.zeros((1, 14, 2)), np.ones((1, 14)), np.array([1.0]))
    result["correct"][crowd.index("top_head")] = 0
    assert pck_by_group(result, crowd)["head"] == 0.5


def test_pck_evaluator_with_given_lengths_for_pckh():
    kset = get_keypoint_set("lsp14")
    person = _lsp_person(kset)
    pred = person.copy()
    pred[:, 0] += 6.0
    gt = _lsp_coco({1: person, 2: person})
    # 6 px off: within 0.5 x 20 for image 1, beyond 0.5 x 10 for image 2.
    evaluator = PCKEvaluator(gt, kset, alpha=0.5, normaliser={1: 20.0, 2: 10.0})
    assert evaluator.default_metric == "PCK@0.5"
    stats = evaluator.evaluate([{"image_id": i, "keypoints": pred, "score": 1.0} for i in (1, 2)])
    assert stats["PCK@0.5"] == 0.5
    with pytest.raises(ValueError, match="no normaliser length"):
        PCKEvaluator(gt, kset, normaliser={1: 20.0})


def _lsp_coco(persons: dict[int, np.ndarray]) -> dict:
    kset = get_keypoint_set("lsp14")
    return {"images": [{"id": i, "file_name": f"im{i}.jpg", "width": 100, "height": 100} for i in persons],
            "annotations": [{"id": n, "image_id": i, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 100, 100],
                             "area": 1e4, "num_keypoints": 14, "keypoints": k.reshape(-1).tolist()}
                            for n, (i, k) in enumerate(persons.items())],
            "categories": [{"id": 1, "name": "person", "keypoints": list(kset.names)}]}


def _lsp_person(kset, offset: float = 0.0) -> np.ndarray:
    k = np.zeros((14, 3))
    k[:, 0] = np.arange(14) * 5.0 + offset
    k[:, 2] = 2
    k[kset.index("right_shoulder"), :2] = (0.0, 0.0)
    k[kset.index("left_hip"), :2] = (0.0, 50.0)
    return k


def test_pck_evaluator_uses_top_prediction_and_counts_missing_images():
    kset = get_keypoint_set("lsp14")
    person = _lsp_person(kset)
    gt = _lsp_coco({1: person, 2: person})
    good = person.copy()
    bad = person.copy()
    bad[:, 0] += 20.0  # every joint 20 px off, beyond 0.2 * 50 = 10 px
    evaluator = PCKEvaluator(gt, kset, alpha=0.2)
    assert evaluator.default_metric == "PCK@0.2"
    stats = evaluator.evaluate([{"image_id": 1, "keypoints": bad, "score": 0.4},
                                {"image_id": 1, "keypoints": good, "score": 0.9}])
    # Image 1 is perfect, image 2 has no prediction: half of all joints are correct.
    assert stats["PCK@0.2"] == 0.5 and stats["total"] == 0.5 and stats["predicted_images"] == 1.0
    records = [ImageRecord(i, f"im{i}.jpg", 100, 100, [Person(person.astype(np.float32), np.zeros(4))])
               for i in (1, 2)]
    from_records = PCKEvaluator(records, kset).evaluate([{"image_id": 2, "keypoints": good, "score": 1.0}])
    assert from_records["PCK@0.2"] == 0.5
    with pytest.raises(DataError, match="17 keypoints|51 numbers"):
        evaluator.evaluate([{"image_id": 1, "keypoints": np.zeros((17, 3)), "score": 1.0}])


def test_limb_pck_with_a_given_torso():
    """A photo cut above the hips: the left hip is unscored (v 0), so the torso comes from the uncut GT."""
    from posekit.evaluation.limbs import LIMB_JOINTS, limb_pck, person_torso
    gt = np.zeros((1, 12, 3))
    gt[0, :, 2] = 1
    gt[0, LIMB_JOINTS.index("right_shoulder"), :2] = (0, 0)
    gt[0, LIMB_JOINTS.index("left_hip"), :2] = (30, 40)           # torso 50
    np.testing.assert_allclose(person_torso(gt), [50.0])
    pred = gt[..., :2].copy()
    pred[0, LIMB_JOINTS.index("right_wrist")] += (0, 9)           # within 0.2 x 50 = 10
    pred[0, LIMB_JOINTS.index("left_wrist")] += (0, 11)           # outside
    cut = gt.copy()
    cut[0, [i for i, n in enumerate(LIMB_JOINTS) if not n.endswith(("shoulder", "elbow", "wrist"))], 2] = 0
    with pytest.raises(ValueError, match="no person has a labelled torso"):
        limb_pck(pred, cut)                                      # no left hip: no normaliser
    scores = limb_pck(pred, cut, torso=person_torso(gt))
    assert scores["counted"] == 6 and scores["wrist"] == 0.5 and scores["total"] == pytest.approx(5 / 6)
