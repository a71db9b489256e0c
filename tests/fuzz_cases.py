"""Generated malformed inputs for the fuzz suite (tests/test_fuzz_inputs.py) and its counts in
docs/reliability.md. Each case is one bad (or odd but valid) file fed to a posekit entry point,
with what must happen: "error" (exit 2, one stderr line that starts with the blamed file's path
and names the field) or "accept" (exit 0; for `score`, finite numbers, never -1, and where the
case says so the same numbers as the unmodified files).

Run `python tests/fuzz_cases.py` for the counts per group."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import pickle
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
          "right_knee", "left_ankle", "right_ankle")
LSP14 = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
         "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top")
DEEP = "[" * 100_000 + "]" * 100_000  # past any JSON loader's recursion limit


# ----------------------------------------------------------------------------------- base files
def _person(cx: float, cy: float, seed: int, labelled: int = 17) -> list[float]:
    rng = np.random.default_rng(seed)
    pts = np.stack([cx + rng.uniform(-40, 40, 17), cy + rng.uniform(-80, 80, 17), np.full(17, 2.0)], axis=1)
    pts[labelled:] = 0
    return np.round(pts, 2).reshape(-1).tolist()


def base_gt() -> dict:
    """Three 640x480 images: two persons, one person and a crowd region, no person (image 3)."""
    anns = []
    # One medium and two large persons, so that every COCO statistic is defined (no -1).
    for ann_id, (image_id, cx, cy, labelled, area) in enumerate(((1, 150, 200, 17, 5000.0), (1, 400, 220, 12, 12000.0),
                                                                 (2, 300, 240, 17, 20000.0)), start=1):
        kpts = _person(cx, cy, ann_id, labelled)
        xs, ys = kpts[0::3][:labelled], kpts[1::3][:labelled]
        box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        anns.append({"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "keypoints": kpts,
                     "num_keypoints": labelled, "bbox": [round(v, 2) for v in box],
                     "area": area, "segmentation": [[0, 0, 1, 0, 1, 1]]})
    anns.append({"id": 4, "image_id": 2, "category_id": 1, "iscrowd": 1, "keypoints": [0] * 51,
                 "num_keypoints": 0, "bbox": [500, 300, 100, 150], "area": 9000.0,
                 "segmentation": {"counts": [0, 10], "size": [480, 640]}})
    images = [{"id": i, "file_name": f"im{i}.jpg", "width": 640, "height": 480} for i in (1, 2, 3)]
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17), "skeleton": [[16, 14]]}]}


def base_results() -> list[dict]:
    gt = base_gt()
    out = []
    for ann, offset in zip(gt["annotations"][:3], (2.0, 6.0, 3.0)):
        k = np.asarray(ann["keypoints"], float).reshape(17, 3)
        k[:, :2] += offset
        k[:, 2] = 0.8
        out.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": np.round(k, 2).reshape(-1).tolist(),
                    "score": 0.9 - 0.1 * ann["id"]})
    out.append({"image_id": 3, "category_id": 1, "keypoints": _person(320, 240, 9), "score": 0.3})  # false positive
    return out


def base_lsp_gt() -> dict:
    """LSP-14 (no sigmas: PCK), two images with one person each."""
    anns = []
    for i in (1, 2):
        k = np.zeros((14, 3))
        k[:, 0] = 50 + 5 * np.arange(14) + i
        k[:, 1] = 40 + 9 * np.arange(14)
        k[:, 2] = 2
        anns.append({"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "keypoints": k.reshape(-1).tolist(),
                     "num_keypoints": 14, "bbox": [40, 30, 100, 150], "area": 15000.0})
    return {"images": [{"id": i, "file_name": f"im{i}.jpg", "width": 200, "height": 200} for i in (1, 2)],
            "annotations": anns, "categories": [{"id": 1, "name": "person", "keypoints": list(LSP14)}]}


def base_lsp_results() -> list[dict]:
    out = []
    for ann in base_lsp_gt()["annotations"]:
        k = np.asarray(ann["keypoints"]).reshape(14, 3)
        k[:, 0] += np.where(np.arange(14) % 3 == 0, 40.0, 1.0)  # some joints miss
        out.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": k.reshape(-1).tolist(), "score": 0.9})
    return out


# ------------------------------------------------------------------------------------ mutations
def _set(path: tuple, value: Any) -> Callable[[Any], Any]:
    def apply(doc: Any) -> Any:
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc
    return apply


_DELETE = object()


def _kp(index: int, value: Any, ann: int = 0) -> Callable[[Any], Any]:
    return _set(("annotations", ann, "keypoints", index), value)


def _gt_mutations() -> list[tuple[str, Callable[[dict], Any], str | None, str, str]]:
    """(name, mutate, field, score expectation, reader expectation); "same" = accept, same numbers."""
    nan, inf = math.nan, math.inf
    m: list[tuple[str, Callable[[dict], Any], str | None, str, str]] = []

    def add(name, fn, fld, score="error", reader="error"):
        m.append((name, fn, fld, score, reader))

    # The file as a whole.
    for name, raw in (("empty file", ""), ("truncated", '{"images": ['), ("binary", b"\xff\xfe\x00garbage"),
                      ("deep nesting", DEEP), ("deep nesting in a field", '{"images": [], "annotations": [{"x": '
                                                                          + DEEP + "}]}")):
        add(name, lambda doc, raw=raw: raw, None)
    for name, value in (("a list", []), ("a number", 5), ("null", None), ("a string", "coco")):
        add(f"top level is {name}", lambda doc, v=value: v, None)
    for key in ("images", "annotations"):
        add(f"no {key}", _set((key,), _DELETE), key)
        add(f"{key} is a mapping", _set((key,), {}), key)
        add(f"{key} is a string", _set((key,), "x"), key)
        add(f"{key} is null", _set((key,), None), key)
    add("categories is a string", _set(("categories",), "person"), "categories")
    add("categories entry is a string", _set(("categories",), ["person"]), "categories")
    add("categories empty", _set(("categories",), []), "categories", reader="accept")
    add("no categories", _set(("categories",), _DELETE), "categories", reader="accept")
    add("category without id", _set(("categories", 0, "id"), _DELETE), "id")
    add("category id a list", _set(("categories", 0, "id"), [1]), "id")
    add("category id a string", _set(("categories", 0, "id"), "1"), "id")
    add("category id matches no annotation", _set(("categories", 0, "id"), 2), "category")
    add("category keypoints a string", _set(("categories", 0, "keypoints"), "nose"), "keypoints")
    add("category keypoints hold numbers", _set(("categories", 0, "keypoints"), list(range(17))), "keypoints")
    add("two categories with the same id", lambda d: d["categories"].append(dict(d["categories"][0])) or d, "id")
    add("category name is not person", _set(("categories", 0, "name"), "human"), None, "same", "accept")

    # Images.
    add("images empty", _set(("images",), []), "image")
    add("images and annotations empty", lambda d: {**d, "images": [], "annotations": []}, None, reader="accept")
    add("image entry a string", _set(("images", 2), "im3.jpg"), "images")
    add("image entry null", _set(("images", 2), None), "images")
    for value, label in (([3], "a list"), ({"v": 3}, "a mapping"), ("3", "a string"), (3.5, "a fraction"),
                         (1e308, "1e308"), (inf, "inf"), (nan, "nan"), (True, "a boolean"), (None, "null"),
                         (2 ** 70, "2**70")):
        add(f"image id {label}", _set(("images", 2, "id"), value), "id")
    add("image without id", _set(("images", 2, "id"), _DELETE), "id")
    add("annotation id negative", _set(("annotations", 1, "id"), -2), None, "same", "accept")
    add("annotation id 0", _set(("annotations", 1, "id"), 0), None, "same", "accept")
    add("image id 3.0", _set(("images", 2, "id"), 3.0), "id")
    add("duplicate image id", _set(("images", 2, "id"), 1), "id")
    add("duplicate image id, same entry", lambda d: d["images"].append(dict(d["images"][0])) or d, "id")
    for value, label in ((None, "null"), (7, "a number"), ("", "empty"), (["a.jpg"], "a list")):
        add(f"file_name {label}", _set(("images", 0, "file_name"), value), "file_name", "same")
    add("no file_name", _set(("images", 0, "file_name"), _DELETE), "file_name", "same")
    add("file_name escapes the root", _set(("images", 0, "file_name"), "../../etc/passwd"), "file_name", "same")
    add("file_name absolute", _set(("images", 0, "file_name"), "/etc/passwd"), "file_name", "same")
    add("file_name a device", _set(("images", 0, "file_name"), "/dev/zero"), "file_name", "same")
    add("file_name in a subfolder", _set(("images", 0, "file_name"), "sub/im1.jpg"), None, "same", "accept")
    for key in ("width", "height"):
        for value, label in ((0, "0"), (-5, "negative"), (1.5, "a fraction"), ("640", "a string"), (None, "null"),
                             (nan, "nan"), (inf, "inf"), ([640], "a list"), (True, "a boolean")):
            add(f"{key} {label}", _set(("images", 0, key), value), key)
        add(f"no {key}", _set(("images", 0, key), _DELETE), key)
    add("width 640.0", _set(("images", 0, "width"), 640.0), None, "same", "accept")

    # Annotations.
    add("annotations empty", _set(("annotations",), []), "annotation", reader="accept")
    add("annotation a string", _set(("annotations", 1), "person"), "annotation")
    add("annotation a list", _set(("annotations", 1), [1, 2]), "annotation")
    add("annotation null", _set(("annotations", 1), None), "annotation")
    for value, label in (([2], "a list"), ({"a": 1}, "a mapping"), ("2", "a string"), (1e308, "1e308"),
                         (inf, "inf"), (nan, "nan"), (2.5, "a fraction"), (True, "a boolean"), (None, "null"),
                         (2 ** 70, "2**70")):
        add(f"annotation id {label}", _set(("annotations", 1, "id"), value), "id")
    add("annotation without id", _set(("annotations", 1, "id"), _DELETE), "id")
    add("duplicate annotation id", _set(("annotations", 1, "id"), 1), "id")
    for value, label in (([1], "a list"), ("1", "a string"), (99, "absent from images"), (1e308, "1e308"),
                         (inf, "inf"), (None, "null"), (1.5, "a fraction")):
        add(f"annotation image_id {label}", _set(("annotations", 1, "image_id"), value), "image_id")
    add("annotation without image_id", _set(("annotations", 1, "image_id"), _DELETE), "image_id")
    for value, label in ((["1"], "a list"), ("1", "a string"), (5, "unknown"), (None, "null"), (1.5, "a fraction")):
        add(f"category_id {label}", _set(("annotations", 1, "category_id"), value), "category_id")
    add("annotation without category_id", _set(("annotations", 1, "category_id"), _DELETE), "category_id")
    add("all annotations in an unknown category",
        lambda d: [a.__setitem__("category_id", 5) for a in d["annotations"]] and d, "category_id")

    # Keypoints.
    for value, label in (("x", "a string"), ({"x": 1}, "a mapping"), (5, "a number"), (True, "a boolean")):
        add(f"keypoints {label}", _set(("annotations", 0, "keypoints"), value), "keypoints")
    add("keypoints null", _set(("annotations", 0, "keypoints"), None), "keypoints", reader="accept")
    add("keypoints empty", _set(("annotations", 0, "keypoints"), []), "keypoints", reader="accept")
    add("no keypoints", _set(("annotations", 0, "keypoints"), _DELETE), "keypoints", reader="accept")
    add("keypoints nested", lambda d: _set(("annotations", 0, "keypoints"),
                                           [d["annotations"][0]["keypoints"][i:i + 3] for i in range(0, 51, 3)])(d),
        "keypoints")
    add("keypoints 50 numbers", lambda d: d["annotations"][0]["keypoints"].pop() and d, "keypoints")
    add("keypoints 14 points", lambda d: _set(("annotations", 0, "keypoints"),
                                              d["annotations"][0]["keypoints"][:42])(d), "keypoints")
    add("keypoints 14 points everywhere", lambda d: [a.__setitem__("keypoints", a["keypoints"][:42])
                                                     for a in d["annotations"]] and d, "keypoint")
    add("keypoints 52 numbers", lambda d: d["annotations"][0]["keypoints"].append(1) or d, "keypoints")
    for index, where in ((0, "x"), (1, "y"), (2, "v")):
        for value, label in ((nan, "nan"), (inf, "inf"), (-inf, "-inf"), ("1", "a string"), (None, "null"),
                             ([1], "a list"), (True, "a boolean")):
            add(f"keypoint {where} {label}", _kp(3 + index, value), "keypoints")
    add("keypoint x nan on an unlabelled joint", _kp(3 * 16, nan, ann=1), "keypoints")
    add("keypoint x 1e30", _kp(3, 1e30), "keypoints")
    add("keypoint y -1e30", _kp(4, -1e30), "keypoints")
    add("keypoint x 1e308", _kp(3, 1e308), "keypoints")
    add("all keypoints far negative", lambda d: _set(("annotations", 0, "keypoints"), [
        -5000.0 if i % 3 != 2 else v for i, v in enumerate(d["annotations"][0]["keypoints"])])(d), "keypoints")
    add("keypoint slightly outside the image", _kp(3, -4.0), None, "accept", "accept")
    add("visibility -1", _kp(5, -1), "keypoints")
    add("visibility 3", _kp(5, 3), None, "same", "accept")
    add("visibility 0.5", _kp(5, 0.5), None, "same", "accept")
    add("keypoints as integers", lambda d: _set(("annotations", 2, "keypoints"),
                                                [int(v) for v in d["annotations"][2]["keypoints"]])(d),
        None, "accept", "accept")
    add("no labelled keypoints", lambda d: [a.__setitem__("keypoints", [0] * 51) for a in d["annotations"]] and d,
        "keypoints", reader="accept")
    add("all crowd", lambda d: [a.__setitem__("iscrowd", 1) for a in d["annotations"]] and d, "crowd",
        reader="accept")

    # Other annotation fields.
    for value, label in (([1, 2, 3], "3 numbers"), ([1, 2, 3, 4, 5], "5 numbers"), ("x", "a string"),
                         ([1, 2, nan, 4], "with nan"), ([1, 2, inf, 4], "with inf"), ([1, 2, -3, 4], "negative width"),
                         ([1, 2, "3", 4], "with a string"), (None, "null"), ([[1, 2, 3, 4]], "nested")):
        add(f"bbox {label}", _set(("annotations", 0, "bbox"), value), "bbox",
            reader="accept" if value is None else "error")  # the reader takes a null box as none
    add("no bbox", _set(("annotations", 0, "bbox"), _DELETE), "bbox", reader="accept")
    for value, label in ((nan, "nan"), (-5.0, "negative"), (inf, "inf"), ("big", "a string"), ([1], "a list"),
                         (True, "a boolean")):
        add(f"area {label}", _set(("annotations", 0, "area"), value), "area")
    add("area null", _set(("annotations", 0, "area"), None), "area", reader="accept")
    add("no area", _set(("annotations", 0, "area"), _DELETE), "area", reader="accept")
    add("area 0", _set(("annotations", 2, "area"), 0), None, "accept", "accept")
    for value, label in (("yes", "a string"), (2, "2"), ([1], "a list"), (nan, "nan"), (0.5, "a fraction")):
        add(f"iscrowd {label}", _set(("annotations", 0, "iscrowd"), value), "iscrowd")
    add("no iscrowd", _set(("annotations", 0, "iscrowd"), _DELETE), None, "same", "accept")
    add("iscrowd true", _set(("annotations", 3, "iscrowd"), True), None, "same", "accept")
    add("num_keypoints wrong", _set(("annotations", 0, "num_keypoints"), 3), None, "same", "accept")
    add("no num_keypoints", _set(("annotations", 0, "num_keypoints"), _DELETE), None, "same", "accept")
    add("segmentation garbage", _set(("annotations", 0, "segmentation"), "garbage"), None, "same", "accept")
    add("unknown keys", lambda d: d["annotations"][0].update(extra={"a": [1, {"b": None}]}) or d,
        None, "same", "accept")
    add("a whole-body field a string", _set(("annotations", 0, "foot_kpts"), "x"), "foot_kpts")
    return m


def _results_mutations() -> list[tuple[str, Callable[[list], Any], str | None, str]]:
    nan, inf = math.nan, math.inf
    m: list[tuple[str, Callable[[list], Any], str | None, str]] = []

    def add(name, fn, fld, expect="error"):
        m.append((name, fn, fld, expect))

    for name, raw in (("empty file", ""), ("truncated", "[{"), ("binary", b"\x00\xff garbage"), ("deep nesting", DEEP),
                      ("deep nesting in a field", '[{"image_id": 1, "x": ' + DEEP + "}]")):
        add(name, lambda doc, raw=raw: raw, None)
    for name, value in (("a mapping", {}), ("null", None), ("a number", 3), ("a string", "x")):
        add(f"top level is {name}", lambda doc, v=value: v, None)
    add("empty list", lambda doc: [], None, "accept")
    add("entry a number", _set((1,), 5), "prediction")
    add("entry a list", _set((1,), [1, 2]), "prediction")
    add("entry null", _set((1,), None), "prediction")
    for key in ("image_id", "keypoints", "score", "category_id"):
        add(f"no {key}", _set((1, key), _DELETE), key)
    for value, label in ((99, "absent from the GT"), ([1], "a list"), ("1", "a string"), (1.0, "1.0"),
                         (inf, "inf"), (nan, "nan"), (True, "a boolean"), (None, "null"), (1e308, "1e308")):
        add(f"image_id {label}", _set((1, "image_id"), value), "image_id")
    for value, label in (("1", "a string"), (7, "unknown"), ([1], "a list"), (None, "null")):
        add(f"category_id {label}", _set((1, "category_id"), value), "category_id")
    for value, label in (("x", "a string"), (5, "a number"), (None, "null"), ({}, "a mapping"), ([], "empty")):
        add(f"keypoints {label}", _set((1, "keypoints"), value), "keypoints")
    add("keypoints nested", lambda r: _set((1, "keypoints"), [r[1]["keypoints"][i:i + 3]
                                                             for i in range(0, 51, 3)])(r), "keypoints")
    add("keypoints 50 numbers", lambda r: r[1]["keypoints"].pop() and r, "keypoints")
    add("keypoints 14 points", lambda r: _set((1, "keypoints"), r[1]["keypoints"][:42])(r), "keypoints")
    for index, where in ((0, "x"), (1, "y"), (2, "score")):
        for value, label in ((nan, "nan"), (inf, "inf"), (-inf, "-inf"), ("1", "a string"), (None, "null"),
                             ([1], "a list")):
            add(f"keypoint {where} {label}", _set((1, "keypoints", 6 + index), value), "keypoints")
    add("all keypoints nan", lambda r: _set((1, "keypoints"), [nan] * 51)(r), "keypoints")
    add("keypoint x 1e30 (a far miss)", _set((1, "keypoints", 6), 1e30), None, "accept")
    add("keypoint x negative (a miss)", _set((1, "keypoints", 6), -50.0), None, "accept")
    for value, label in ((nan, "nan"), (inf, "inf"), (-inf, "-inf"), ("0.9", "a string"), (None, "null"),
                         (True, "a boolean"), ([0.9], "a list")):
        add(f"score {label}", _set((1, "score"), value), "score")
    add("score negative", _set((1, "score"), -2.0), None, "accept")
    for value, label in (([1, 2, 3], "3 numbers"), ("x", "a string"), ([1, 2, nan, 4], "with nan")):
        add(f"bbox {label}", _set((0, "bbox"), value), "bbox")
    add("segmentation garbage", _set((0, "segmentation"), "garbage"), None, "accept")
    add("duplicate predictions", lambda r: r + copy.deepcopy(r), None, "accept")
    add("unknown keys", lambda r: [p.update(center=[1, 2], extra={"a": None}) for p in r] and r, None, "accept")
    return m


def _pck_mutations() -> list[tuple[str, Callable, str, str | None, str]]:
    """(name, mutate, which file, field, expectation) against the LSP-14 (PCK) base pair."""
    nan, inf = math.nan, math.inf
    return [
        ("GT keypoint nan", lambda d: _kp(0, nan)(d), "gt", "keypoints", "error"),
        ("GT keypoint inf", lambda d: _kp(1, inf)(d), "gt", "keypoints", "error"),
        ("GT keypoint 1e30", lambda d: _kp(0, 1e30)(d), "gt", "keypoints", "error"),
        ("GT visibility -1", lambda d: _kp(2, -1)(d), "gt", "keypoints", "error"),
        ("GT torso never labelled", lambda d: [a["keypoints"].__setitem__(i, 0) for a in d["annotations"]
                                               for i in (3 * 8 + 2, 3 * 3 + 2)] and d, "gt", "torso", "error"),
        ("GT no annotations", _set(("annotations",), []), "gt", "annotation", "error"),
        ("GT all crowd", lambda d: [a.__setitem__("iscrowd", 1) for a in d["annotations"]] and d, "gt", "crowd",
         "error"),
        ("GT no categories (14 unnamed joints)", _set(("categories",), _DELETE), "gt", "--keypoint-set", "error"),
        ("results keypoint nan", lambda r: _set((0, "keypoints", 0), nan)(r), "results", "keypoints", "error"),
        ("results score nan", lambda r: _set((0, "score"), nan)(r), "results", "score", "error"),
        ("results score a string", lambda r: _set((0, "score"), "high")(r), "results", "score", "error"),
        ("results image_id a list", lambda r: _set((0, "image_id"), [1])(r), "results", "image_id", "error"),
        ("results empty", lambda r: [], "results", None, "accept"),
    ]


def _lsp_mutations() -> list[tuple[str, str, Callable[[np.ndarray], Any], str | None, str]]:
    """(name, lsp|lspet, mutate(joints) -> joints or a raw file, field, expectation)."""
    nan, inf = math.nan, math.inf
    m = []
    for kind in ("lsp", "lspet"):
        def at(value, coord=0, kind=kind):
            def apply(j):
                j = j.copy()
                if kind == "lsp":
                    j[coord, 3, 1] = value   # (3, 14, N): image index 1 (im0002)
                else:
                    j[3, coord, 1] = value   # (14, 3, N)
                return j
            return apply
        m += [
            (f"{kind} joints nan", kind, at(nan), "image 2", "error"),
            (f"{kind} joints inf", kind, at(inf), "image 2", "error"),
            (f"{kind} joints -inf", kind, at(-inf, 1), "image 2", "error"),
            (f"{kind} joints 1e30", kind, at(1e30), "image 2", "error"),
            (f"{kind} flag nan", kind, at(nan, 2), "image 2", "error"),
            (f"{kind} empty file", kind, lambda j: b"", None, "error"),
            (f"{kind} not a .mat", kind, lambda j: b"MATLAB 5.0 MAT-file garbage" + bytes(200), None, "error"),
            (f"{kind} no joints array", kind, lambda j: {"points": j}, "joints", "error"),
            (f"{kind} joints of strings", kind, lambda j: {"joints": np.array(["a", "b"])}, "joints", "error"),
            (f"{kind} joints 2-d", kind, lambda j: {"joints": j.reshape(j.shape[0], -1)}, "joints", "error"),
            (f"{kind} joints a cell array", kind,
             lambda j: {"joints": np.array([j, j[:1]], dtype=object)}, "joints", "error"),
            (f"{kind} joints complex", kind, lambda j: {"joints": j + 1j}, "joints", "error"),
            (f"{kind} unchanged", kind, lambda j: j, None, "accept"),
        ]
    m += [
        ("lsp joints negative by far", "lsp", lambda j: _lsp_set(j, (0, 4, 1), -5000.0), "image 2", "error"),
        ("lsp joint slightly outside", "lsp", lambda j: _lsp_set(j, (0, 4, 1), -3.0), None, "accept"),
        ("lsp flags 0.5", "lsp", lambda j: _lsp_set(j, (2, 4, 1), 0.5), None, "accept"),
        ("lsp joints wrong count", "lsp", lambda j: j[:, :13], "joints", "error"),
        ("lspet negative filler", "lspet", lambda j: _lsp_set(j, (4, 0, 1), -1.0), None, "accept"),
        ("lspet joints wrong layout", "lspet", lambda j: j.transpose(1, 0, 2), "joints", "error"),
        ("lspet joints empty", "lspet", lambda j: {"joints": np.zeros((14, 3, 0))}, None, "error"),
    ]
    return m


def _lsp_set(j: np.ndarray, index: tuple, value: float) -> np.ndarray:
    j = j.copy()
    j[index] = value
    return j


CONFIG_BASE = """\
name: fuzz
paradigm: topdown
data:
  format: coco
  train: train.json
  val: val.json
  keypoint_set: coco17
  input_size: [192, 256]
model:
  name: rtmpose-t
train:
  epochs: 3
  lr: 0.001
"""


def _config_mutations() -> list[tuple[str, str | bytes, list[str], str | None, str]]:
    """(name, file text, overrides, field, expectation)."""
    b = CONFIG_BASE
    return [
        ("unchanged", b, [], None, "accept"),
        ("empty file", "", [], None, "accept"),
        ("malformed YAML", "data: [1, 2\nmodel: {", [], None, "error"),
        ("a list", "- 1\n- 2\n", [], None, "error"),
        ("a scalar", "42\n", [], None, "error"),
        ("binary", b"\x00\xff\xfe\x01", [], None, "error"),
        ("tabs", "data:\n\tformat: coco\n", [], None, "error"),
        ("unknown top key", b + "trian: {}\n", [], "trian", "error"),
        ("unknown nested key", b.replace("  epochs: 3", "  epochz: 3"), [], "epochz", "error"),
        ("epochs a string", b.replace("epochs: 3", "epochs: three"), [], "epochs", "error"),
        ("epochs negative", b.replace("epochs: 3", "epochs: -1"), [], "epochs", "error"),
        ("epochs a float", b.replace("epochs: 3", "epochs: 2.5"), [], "epochs", "error"),
        ("epochs .inf", b.replace("epochs: 3", "epochs: .inf"), [], "epochs", "error"),
        ("lr .nan", b.replace("lr: 0.001", "lr: .nan"), [], "lr", "error"),
        ("lr a list", b.replace("lr: 0.001", "lr: [1]"), [], "lr", "error"),
        ("lr zero", b.replace("lr: 0.001", "lr: 0"), [], "lr", "error"),
        ("input_size one number", b.replace("[192, 256]", "[192]"), [], "input_size", "error"),
        ("input_size negative", b.replace("[192, 256]", "[-192, 256]"), [], "input_size", "error"),
        ("input_size strings", b.replace("[192, 256]", "[a, b]"), [], "input_size", "error"),
        ("data a list", b.replace("data:\n", "data: []\nx:\n"), [], "data", "error"),
        ("format unknown", b.replace("format: coco", "format: xml"), [], "format", "error"),
        ("paradigm unknown", b.replace("paradigm: topdown", "paradigm: sideways"), [], "paradigm", "error"),
        ("python tag", b + "extra: !!python/object/apply:os.system ['true']\n", [], None, "error"),
        ("deep nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n", [], None, "error"),
        ("base missing", "base: nowhere.yaml\n" + b, [], "nowhere", "error"),
        ("base is itself", "base: config.yaml\n" + b, [], "base", "error"),
        ("base a list", "base: [1]\n" + b, [], "base", "error"),
        ("override without =", b, ["train.epochs"], "train.epochs", "error"),
        ("override unknown key", b, ["train.nope=1"], "train.nope", "error"),
        ("override bad value", b, ["train.epochs=[1"], "train.epochs", "error"),
        ("override wrong type", b, ["data.input_size=5"], "data.input_size", "error"),
        ("override into a value", b, ["train.epochs.x=1"], "train.epochs", "error"),
        ("override nan", b, ["train.lr=.nan"], "train.lr", "error"),
    ]


def _checkpoint_files(marker: Path) -> list[tuple[str, Callable[[Path], None], str]]:
    """(name, write(path), expectation) for `posekit convert checkpoint mmpose`."""
    import torch

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    def crafted(path: Path) -> None:
        torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": Exploit()}, path)

    def raw_pickle(path: Path) -> None:
        path.write_bytes(pickle.dumps({"state_dict": Exploit()}))

    def not_a_zip(path: Path) -> None:
        path.write_bytes(b"PK\x03\x04" + bytes(64))

    def truncated(path: Path) -> None:
        buf = io.BytesIO()
        torch.save({"state_dict": {"w": torch.zeros(10)}}, buf)
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])

    def zip_without_data(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/version", "3")

    return [
        ("crafted pickle in a torch file", crafted, "error"),
        ("crafted raw pickle", raw_pickle, "error"),
        ("empty file", lambda p: p.write_bytes(b""), "error"),
        ("garbage", lambda p: p.write_bytes(b"\x80\x04garbage" * 10), "error"),
        ("not a zip", not_a_zip, "error"),
        ("truncated", truncated, "error"),
        ("zip without data", zip_without_data, "error"),
        ("a list", lambda p: torch.save([1, 2], p), "error"),
        ("no weights", lambda p: torch.save({"meta": {"epoch": 1}}, p), "error"),
        ("weights of the wrong shape", lambda p: torch.save({"state_dict": {"head.final_layer.weight": torch.zeros(1)}},
                                                            p), "error"),
    ]


# ------------------------------------------------------------------------------------- running
@dataclass
class Outcome:
    ok: bool
    detail: str


def _write(path: Path, content: Any) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


def _run_cli(argv: list[str]) -> tuple[int | str, str, str]:
    """posekit's main in-process: (exit status or 'exception: ...', stdout, stderr)."""
    from posekit.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc: int | str = main(argv)
        except SystemExit as exc:
            rc = f"SystemExit {exc.code}"
        except BaseException as exc:  # the point of the suite: anything escaping main is a failure
            rc = f"exception: {type(exc).__name__}: {str(exc)[:120]}"
    return rc, out.getvalue(), err.getvalue()


def _run_library(fn: Callable[[], Any]) -> tuple[int | str, str, str]:
    """A library call judged like main judges it: its user-facing errors as exit 2 with one line."""
    try:
        fn()
        return 0, "", ""
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return 2, "", f"posekit: error: {message}\n"
    except BaseException as exc:
        return f"exception: {type(exc).__name__}: {str(exc)[:120]}", "", ""


def _judge_error(rc, err: str, blamed: Path | None, fld: str | None) -> Outcome:
    if rc != 2:
        return Outcome(False, f"expected exit 2, got {rc}; stderr {err.strip()[:160]!r}")
    lines = err.strip().splitlines()
    if len(lines) != 1:
        return Outcome(False, f"{len(lines)} stderr lines: {err.strip()[:200]!r}")
    message = lines[0].split(": error: ", 1)[-1]
    if blamed is not None and not message.startswith(str(blamed)):
        return Outcome(False, f"does not start with {blamed.name}: {message[:200]!r}")
    if fld is not None and fld.lower() not in message.lower():
        return Outcome(False, f"does not name '{fld}': {message[:200]!r}")
    return Outcome(True, message[:200])


def _numbers(stats: Any) -> list:
    if isinstance(stats, dict):
        return [v for s in stats.values() for v in _numbers(s)]
    return [stats]


def _judge_score_accept(rc, out: str, err: str, base: dict | None) -> Outcome:
    if rc != 0:
        return Outcome(False, f"expected exit 0, got {rc}; stderr {err.strip()[:200]!r}")
    stats = json.loads(out.strip().splitlines()[-1])["stats"]
    bad = [v for v in _numbers(stats) if v is not None and (not math.isfinite(v) or v == -1)]
    if bad:
        return Outcome(False, f"non-finite or -1 numbers {bad[:3]}")
    if base is not None and stats != base:
        return Outcome(False, f"numbers changed: {stats} vs {base}")
    return Outcome(True, "accepted")


class Runner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def path(self, name: str) -> Path:
        self.count += 1
        return self.root / f"{self.count:04d}_{name}"

    def score(self, gt: Path, res: Path, extra: list[str] = ()) -> tuple[int | str, str, str]:
        return _run_cli(["score", "--gt", str(gt), "--results", str(res), "--json", *extra])

    def base_stats(self, gt: dict, results: list) -> dict:
        rc, out, err = self.score(_write(self.path("gt.json"), gt), _write(self.path("res.json"), results))
        assert rc == 0, err
        return json.loads(out.strip().splitlines()[-1])["stats"]


def run_group(group: str, root: Path) -> list[tuple[str, Outcome]]:
    return GROUPS[group](Runner(root))


def _gt_group(r: Runner, reader: bool) -> list[tuple[str, Outcome]]:
    from posekit.data.readers import read_coco
    base = r.base_stats(base_gt(), base_results())
    res_path = _write(r.path("res.json"), base_results())
    images = r.root / "images"
    images.mkdir(exist_ok=True)
    outcomes = []
    for name, mutate, fld, score_expect, reader_expect in _gt_mutations():
        content = mutate(base_gt())
        gt_path = _write(r.path("gt.json"), content)
        expect = reader_expect if reader else score_expect
        if reader:
            rc, out, err = _run_library(lambda gt_path=gt_path: read_coco(gt_path, image_root=images))
            outcome = (Outcome(rc == 0, f"expected exit 0, got {rc}; {err.strip()[:200]!r}") if expect == "accept"
                       else _judge_error(rc, err, gt_path, fld))
        else:
            rc, out, err = r.score(gt_path, res_path)
            if expect == "error":
                outcome = _judge_error(rc, err, gt_path, fld)
            else:
                outcome = _judge_score_accept(rc, out, err, base if expect == "same" else None)
        outcomes.append((name, outcome))
    return outcomes


def _results_group(r: Runner) -> list[tuple[str, Outcome]]:
    gt_path = _write(r.path("gt.json"), base_gt())
    outcomes = []
    for name, mutate, fld, expect in _results_mutations():
        res_path = _write(r.path("res.json"), mutate(base_results()))
        rc, out, err = r.score(gt_path, res_path)
        outcomes.append((name, _judge_error(rc, err, res_path, fld) if expect == "error"
                         else _judge_score_accept(rc, out, err, None)))
    return outcomes


def _pck_group(r: Runner) -> list[tuple[str, Outcome]]:
    outcomes = []
    for name, mutate, which, fld, expect in _pck_mutations():
        gt, res = base_lsp_gt(), base_lsp_results()
        if which == "gt":
            gt = mutate(gt)
        else:
            res = mutate(res)
        gt_path, res_path = _write(r.path("gt.json"), gt), _write(r.path("res.json"), res)
        rc, out, err = r.score(gt_path, res_path)
        blamed = gt_path if which == "gt" else res_path
        outcomes.append((name, _judge_error(rc, err, blamed, fld) if expect == "error"
                         else _judge_score_accept(rc, out, err, None)))
    return outcomes


def _leeds_root(r: Runner, kind: str) -> tuple[Path, np.ndarray]:
    """A tiny LSP (2,000 8x8 images: the reader wants all of them) or LSPET (3 images) folder."""
    import cv2
    root = r.root / f"{kind}_images_only"
    n = 2000 if kind == "lsp" else 3
    if not root.exists():
        (root / "images").mkdir(parents=True)
        ok, png = cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))
        for i in range(1, n + 1):
            # PNG bytes under the .jpg names the readers expect: sizes come from the header.
            (root / "images" / (f"im{i:04d}.jpg" if kind == "lsp" else f"im{i:05d}.jpg")).write_bytes(png.tobytes())
    rng = np.random.default_rng(0)
    xy = rng.uniform(10, 190, (n, 14, 2))
    if kind == "lsp":
        joints = np.concatenate([xy, np.zeros((n, 14, 1))], axis=2).transpose(2, 1, 0)   # (3, 14, N), 0 = visible
    else:
        joints = np.concatenate([xy, np.ones((n, 14, 1))], axis=2).transpose(1, 2, 0)    # (14, 3, N), 1 = visible
    return root, joints


def _leeds_group(r: Runner, kind: str) -> list[tuple[str, Outcome]]:
    import scipy.io
    images, joints = _leeds_root(r, kind)
    outcomes = []
    for name, which, mutate, fld, expect in _lsp_mutations():
        if which != kind:
            continue
        root = r.path(kind)
        root.mkdir()
        (root / "images").symlink_to(images / "images")
        content = mutate(joints)
        mat = root / "joints.mat"
        if isinstance(content, bytes):
            mat.write_bytes(content)
        else:
            scipy.io.savemat(str(mat), content if isinstance(content, dict) else {"joints": content})
        out = root / "out.json"
        rc, stdout, err = _run_cli(["convert", kind, str(root), str(out)])
        if expect == "error":
            outcome = _judge_error(rc, err, mat, None)
            if outcome.ok and fld is not None and fld not in outcome.detail:
                outcome = Outcome(False, f"does not name '{fld}': {outcome.detail!r}")
        else:
            outcome = Outcome(rc == 0, f"exit {rc}: {err.strip()[:200]!r}")
            written = [p for p in root.glob("out*.json")]
            if rc == 0 and any("NaN" in p.read_text() or "Infinity" in p.read_text() for p in written):
                outcome = Outcome(False, "NaN or Infinity written to JSON")
        outcomes.append((name, outcome))
    return outcomes


def _config_group(r: Runner) -> list[tuple[str, Outcome]]:
    from posekit.config import load_config
    outcomes = []
    for name, text, overrides, fld, expect in _config_mutations():
        folder = r.path("config")
        folder.mkdir()
        path = _write(folder / "config.yaml", text)
        rc, out, err = _run_library(lambda path=path, overrides=overrides: load_config(path, overrides))
        if expect == "accept":
            outcome = Outcome(rc == 0, f"exit {rc}: {err.strip()[:200]!r}")
        else:
            outcome = _judge_error(rc, err, None, fld)
            message = outcome.detail
            if outcome.ok and fld is None and str(path) not in message:
                outcome = Outcome(False, f"names neither the file nor a key: {message!r}")
        outcomes.append((name, outcome))
    return outcomes


def _checkpoint_group(r: Runner) -> list[tuple[str, Outcome]]:
    outcomes = []
    for name, write, _expect in _checkpoint_files(r.root / "marker"):
        marker = r.root / "marker"
        marker.unlink(missing_ok=True)
        path = r.path("ckpt.pth")
        write(path)
        marker.unlink(missing_ok=True)  # writing a crafted file must not count against loading it
        rc, out, err = _run_cli(["convert", "checkpoint", "mmpose", str(path), str(r.path("out.pt")),
                                 "--model", "rtmpose-t"])
        outcome = _judge_error(rc, err, path, None)
        if marker.exists():
            outcome = Outcome(False, "loading ran code from the file (marker written)")
        outcomes.append((name, outcome))
    return outcomes


GROUPS: dict[str, Callable[[Runner], list[tuple[str, Outcome]]]] = {
    "gt": lambda r: _gt_group(r, reader=False),
    "reader": lambda r: _gt_group(r, reader=True),
    "results": _results_group,
    "pck": _pck_group,
    "lsp": lambda r: _leeds_group(r, "lsp"),
    "lspet": lambda r: _leeds_group(r, "lspet"),
    "config": _config_group,
    "checkpoint": _checkpoint_group,
}


def main() -> None:
    verbose = "-v" in sys.argv
    total_cases = total_failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for group in GROUPS:
            root = Path(tmp) / group
            root.mkdir()
            outcomes = run_group(group, root)
            failed = [(n, o) for n, o in outcomes if not o.ok]
            total_cases += len(outcomes)
            total_failed += len(failed)
            print(f"{group:<11} {len(outcomes):4d} cases  {len(failed):4d} failed")
            if verbose:
                for n, o in failed:
                    print(f"    {n}: {o.detail}")
    print(f"{'total':<11} {total_cases:4d} cases  {total_failed:4d} failed")


if __name__ == "__main__":
    main()
