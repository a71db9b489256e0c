"""Keypoint sets: names, flip pairs, OKS sigmas, skeleton links and colours.

A KeypointSet travels with the data, so flip pairs and sigmas are typed once here and never again.
Built-in sets are registered by name; custom sets load from a small YAML/JSON file and are validated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


class KeypointSetError(ValueError):
    """A keypoint set definition is inconsistent (names the set and what is wrong)."""


def _side_colour(name: str) -> tuple[int, int, int]:
    # RGB: left limbs green, right limbs orange, centre-line joints blue. Readable on most photos.
    lowered = name.lower()
    if lowered.startswith(("left", "l_")) or "_left" in lowered:
        return (0, 200, 0)
    if lowered.startswith(("right", "r_")) or "_right" in lowered:
        return (255, 128, 0)
    return (51, 153, 255)


@dataclass(frozen=True)
class KeypointSet:
    """K named keypoints with flip pairs, optional OKS sigmas, skeleton links and RGB colours.

    Index pairs refer to positions in `names`. Colours default by side (left green, right orange,
    centre blue). Validated on construction; raises KeypointSetError if inconsistent.
    """

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None
    skeleton: tuple[tuple[int, int], ...] = ()
    colours: tuple[tuple[int, int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.colours:
            object.__setattr__(self, "colours", tuple(_side_colour(n) for n in self.names))
        self.validate()

    @property
    def num_keypoints(self) -> int:
        """K, the number of keypoints."""
        return len(self.names)

    @property
    def flip_index(self) -> np.ndarray:
        """Permutation p such that flipped[k] = original[p[k]] after a horizontal mirror."""
        index = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index

    @property
    def sigmas_array(self) -> np.ndarray:
        """(K,) float64 OKS sigmas; raises KeypointSetError if the set defines none."""
        if self.sigmas is None:
            raise KeypointSetError(f"keypoint set '{self.name}' defines no OKS sigmas")
        return np.asarray(self.sigmas, dtype=np.float64)

    def index(self, name: str) -> int:
        """Position of the keypoint with this exact name; KeypointSetError if absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeypointSetError(f"keypoint set '{self.name}' has no keypoint '{name}'") from None

    def validate(self) -> None:
        """Raise KeypointSetError naming the first problem found.

        Checks: unique non-empty names, flip pairs one-to-one and in range, one positive sigma per
        keypoint, skeleton links in range, one colour per keypoint.
        """
        k = len(self.names)
        if k == 0:
            raise KeypointSetError(f"keypoint set '{self.name}': no keypoint names")
        if len(set(self.names)) != k:
            raise KeypointSetError(f"keypoint set '{self.name}': duplicate keypoint names")
        seen: set[int] = set()
        for pair in self.flip_pairs:
            if len(pair) != 2:
                raise KeypointSetError(f"keypoint set '{self.name}': flip pair {pair} is not a pair")
            a, b = pair
            for i in (a, b):
                if not 0 <= i < k:
                    raise KeypointSetError(
                        f"keypoint set '{self.name}': flip pair {tuple(pair)} has index {i} out of range 0..{k - 1}")
            if a == b or a in seen or b in seen:
                raise KeypointSetError(
                    f"keypoint set '{self.name}': flip pair {tuple(pair)} is not a symmetric one-to-one pairing "
                    "(an index is paired with itself or appears in two pairs)")
            seen.update((a, b))
        if self.sigmas is not None and len(self.sigmas) != k:
            raise KeypointSetError(
                f"keypoint set '{self.name}': {len(self.sigmas)} sigmas for {k} keypoints (need one per keypoint)")
        if self.sigmas is not None and any(s <= 0 for s in self.sigmas):
            raise KeypointSetError(f"keypoint set '{self.name}': sigmas must be positive")
        for link in self.skeleton:
            if len(link) != 2 or not all(0 <= i < k for i in link):
                raise KeypointSetError(f"keypoint set '{self.name}': skeleton link {tuple(link)} out of range 0..{k - 1}")
        if len(self.colours) != k:
            raise KeypointSetError(f"keypoint set '{self.name}': {len(self.colours)} colours for {k} keypoints")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples as lists) that load_keypoint_set reads back."""
        return {
            "name": self.name,
            "names": list(self.names),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "sigmas": None if self.sigmas is None else list(self.sigmas),
            "skeleton": [list(s) for s in self.skeleton],
            "colours": [list(c) for c in self.colours],
        }


_REGISTRY: dict[str, Callable[[], KeypointSet]] = {}
_CACHE: dict[str, KeypointSet] = {}


def register(name: str) -> Callable[[Callable[[], KeypointSet]], Callable[[], KeypointSet]]:
    """Decorator: register a zero-argument factory as a built-in set; it is built on first use."""
    def wrap(fn: Callable[[], KeypointSet]) -> Callable[[], KeypointSet]:
        _REGISTRY[name] = fn
        return fn
    return wrap


def available() -> list[str]:
    """Sorted names of the built-in keypoint sets."""
    return sorted(_REGISTRY)


def get_keypoint_set(name_or_path: str | KeypointSet) -> KeypointSet:
    """A built-in set by name, or a custom set from a .yaml/.yml/.json path."""
    if isinstance(name_or_path, KeypointSet):
        return name_or_path
    key = str(name_or_path)
    if key in _REGISTRY:
        if key not in _CACHE:
            _CACHE[key] = _REGISTRY[key]()
        return _CACHE[key]
    if key.endswith((".yaml", ".yml", ".json")):
        return load_keypoint_set(key)
    raise KeypointSetError(f"unknown keypoint set '{key}'; built-in sets: {', '.join(available())} "
                           "(or give a .yaml/.json file)")


def load_keypoint_set(path: str | Path) -> KeypointSet:
    """Load and validate a custom set: keys name, names, flip_pairs, sigmas?, skeleton?, colours?."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeypointSetError(f"{path}: cannot read keypoint set file ({exc.strerror})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except Exception as exc:  # json/yaml raise different types; both mean a malformed file
        raise KeypointSetError(f"{path}: malformed keypoint set file: {exc}") from None
    if not isinstance(data, dict):
        raise KeypointSetError(f"{path}: expected a mapping with keys name, names, flip_pairs, ...")
    allowed = {"name", "names", "flip_pairs", "sigmas", "skeleton", "colours", "colors"}
    unknown = set(data) - allowed
    if unknown:
        raise KeypointSetError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    if "names" not in data:
        raise KeypointSetError(f"{path}: missing required key 'names'")
    try:
        return KeypointSet(
            name=str(data.get("name", path.stem)),
            names=tuple(str(n) for n in data["names"]),
            flip_pairs=tuple(tuple(int(i) for i in p) for p in data.get("flip_pairs", []) or []),
            sigmas=None if data.get("sigmas") is None else tuple(float(s) for s in data["sigmas"]),
            skeleton=tuple(tuple(int(i) for i in s) for s in data.get("skeleton", []) or []),
            colours=tuple(tuple(int(c) for c in col) for col in (data.get("colours") or data.get("colors") or [])),
        )
    except KeypointSetError as exc:
        raise KeypointSetError(f"{path}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise KeypointSetError(f"{path}: malformed keypoint set: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Built-in sets. Orders, flip pairs and sigmas follow each dataset's official definition.

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_SIGMAS = tuple(s / 10.0 for s in (
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89))
COCO17_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
COCO17_FLIP = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


@register("coco17")
def coco17() -> KeypointSet:
    """COCO person keypoints: 17 points, with the official OKS sigmas."""
    return KeypointSet("coco17", COCO17_NAMES, COCO17_FLIP, COCO17_SIGMAS, COCO17_SKELETON)


@register("lsp14")
def lsp14() -> KeypointSet:
    """Leeds Sports Pose: 14 points, no OKS sigmas."""
    # LSP defines no OKS sigmas; PCK (torso-normalised) is its metric.
    names = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
             "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
             "left_wrist", "neck", "head_top")
    flip = ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9))
    skeleton = ((0, 1), (1, 2), (3, 4), (4, 5), (2, 3), (2, 8), (3, 9), (6, 7), (7, 8), (8, 9),
                (9, 10), (10, 11), (8, 12), (9, 12), (12, 13))
    return KeypointSet("lsp14", names, flip, None, skeleton)


@register("crowdpose14")
def crowdpose14() -> KeypointSet:
    """CrowdPose: 12 COCO body points plus top of head and neck, with OKS sigmas."""
    names = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
             "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
             "right_ankle", "top_head", "neck")
    flip = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11))
    sigmas = tuple(s / 10.0 for s in (.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79))
    skeleton = ((12, 13), (13, 0), (13, 1), (0, 2), (2, 4), (1, 3), (3, 5), (13, 7), (13, 6),
                (7, 9), (9, 11), (6, 8), (8, 10))
    return KeypointSet("crowdpose14", names, flip, sigmas, skeleton)


@register("mpii16")
def mpii16() -> KeypointSet:
    """MPII Human Pose: 16 points, with per-joint OKS sigmas (PCKh is MPII's own metric)."""
    names = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
             "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
             "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
    flip = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
    sigmas = (0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026,
              0.062, 0.072, 0.179, 0.179, 0.072, 0.062)
    skeleton = ((0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
                (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15))
    return KeypointSet("mpii16", names, flip, sigmas, skeleton)


# ---------------------------------------------------------------------------------------------
# Whole-body sets. Both share the 68-point iBUG face layout and the 21-point hand layout
# (root, then thumb, fore, middle, ring, pinky fingers, four points each, base to tip).

FACE68_FLIP = (
    (0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),  # jaw line
    (17, 26), (18, 25), (19, 24), (20, 23), (21, 22),                      # eyebrows
    (31, 35), (32, 34),                                                     # nostrils
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),            # eyes
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),                      # outer lips
    (60, 64), (61, 63), (65, 67),                                           # inner lips
)
HAND21_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand_names(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",) + tuple(f"{side}_{finger}{i}" for finger in HAND21_FINGERS for i in range(1, 5))


def _hand_links(root: int) -> tuple[tuple[int, int], ...]:
    links = []
    for f in range(5):
        chain = [root] + [root + 1 + 4 * f + i for i in range(4)]
        links += list(zip(chain[:-1], chain[1:]))
    return tuple(links)


def _offset(pairs: tuple[tuple[int, int], ...], offset: int) -> tuple[tuple[int, int], ...]:
    return tuple((a + offset, b + offset) for a, b in pairs)


# COCO-WholeBody (Jin et al. 2020), order and sigmas as in its evaluation code (xtcocotools).
WHOLEBODY_FOOT_SIGMAS = (0.068, 0.066, 0.066, 0.092, 0.094, 0.094)
WHOLEBODY_FACE_SIGMAS = (
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037, 0.038,
    0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015, 0.009,
    0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009, 0.011, 0.009, 0.007,
    0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008,
    0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008,
)
WHOLEBODY_HAND_SIGMAS = (
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017,
    0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031,
)
# The slices of the 133 points as the whole-body JSON stores them (keypoints, foot_kpts, face_kpts,
# lefthand_kpts, righthand_kpts), in concatenation order.
WHOLEBODY_PARTS = (("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21),
                   ("righthand_kpts", 21))


@register("coco_wholebody133")
def coco_wholebody133() -> KeypointSet:
    """COCO-WholeBody: 17 body, 6 foot, 68 face, 21 left-hand and 21 right-hand points."""
    foot = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    names = COCO17_NAMES + foot + tuple(f"face-{i}" for i in range(68)) + _hand_names("left") + _hand_names("right")
    flip = (COCO17_FLIP + ((17, 20), (18, 21), (19, 22)) + _offset(FACE68_FLIP, 23)
            + tuple((91 + i, 112 + i) for i in range(21)))
    sigmas = COCO17_SIGMAS + WHOLEBODY_FOOT_SIGMAS + WHOLEBODY_FACE_SIGMAS + WHOLEBODY_HAND_SIGMAS * 2
    skeleton = (COCO17_SKELETON + ((15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22))
                + ((9, 91), (10, 112)) + _hand_links(91) + _hand_links(112))
    return KeypointSet("coco_wholebody133", names, flip, sigmas, skeleton)


@register("halpe136")
def halpe136() -> KeypointSet:
    """Halpe Full-Body: 136 points (COCO-17, head, neck, mid-hip, 6 foot, 68 face, 2 x 21 hand)."""
    # Halpe Full-Body (Fang et al.): COCO-17, head (top), neck, hip (mid-hip), 6 foot points
    # interleaved left/right, 68 face, 21 left hand, 21 right hand. The official metainfo calls the
    # hand roots "left_wrist"/"right_wrist" again; here they are *_hand_root so names stay unique.
    foot = ("left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel")
    names = (COCO17_NAMES + ("head", "neck", "hip") + foot + tuple(f"face-{i}" for i in range(68))
             + _hand_names("left") + _hand_names("right"))
    flip = (COCO17_FLIP + ((20, 21), (22, 23), (24, 25)) + _offset(FACE68_FLIP, 26)
            + tuple((94 + i, 115 + i) for i in range(21)))
    # Sigmas from the Halpe COCO API (halpecocotools cocoeval): body 17 as COCO, head/neck/hip
    # 0.08, feet 0.089, face and hands 0.015.
    sigmas = COCO17_SIGMAS + (0.08,) * 3 + (0.089,) * 6 + (0.015,) * 110
    skeleton = ((15, 13), (13, 11), (11, 19), (16, 14), (14, 12), (12, 19), (17, 18), (18, 19), (18, 5),
                (5, 7), (7, 9), (18, 6), (6, 8), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5),
                (4, 6), (15, 20), (15, 22), (15, 24), (16, 21), (16, 23), (16, 25), (9, 94), (10, 115)
                ) + _hand_links(94) + _hand_links(115)
    return KeypointSet("halpe136", names, flip, sigmas, skeleton)


# ---------------------------------------------------------------------------------------------
# Union skeleton and name-based mappings between sets.

UNION24_NAMES = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "belly",
    "thorax", "neck", "upper_neck", "nose", "head", "head_top", "left_shoulder", "left_elbow",
    "left_wrist", "right_shoulder", "right_elbow", "right_wrist", "right_eye", "left_eye", "right_ear",
    "left_ear",
)


@register("union24")
def union24() -> KeypointSet:
    """24-joint union of COCO, MPII and AIC joints for joint training; no OKS sigmas."""
    # The 24-joint union used by Xie et al. (PoseDual) and SSPCM to train on COCO, MPII and AIC
    # together (same order); each dataset fills the joints it has and leaves the rest v=0.
    # No OKS sigmas: evaluation maps back to the source dataset's own set.
    flip_by_name = _flip_pairs_by_name(UNION24_NAMES)
    skeleton = ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
                (10, 12), (12, 13), (8, 14), (14, 15), (15, 16), (8, 17), (17, 18), (18, 19), (11, 20),
                (11, 21), (20, 22), (21, 23))
    return KeypointSet("union24", UNION24_NAMES, flip_by_name, None, skeleton)


# Different datasets' names for the same joint, mapped to one canonical name.
KEYPOINT_ALIASES = {
    "top_head": "head_top",
    "headtop": "head_top",
    "root": "pelvis",
    "hip": "pelvis",  # Halpe's mid-hip point
    "mid_hip": "pelvis",
}


def canonical_keypoint_name(name: str) -> str:
    """Lower case, words joined by '_', and aliases resolved ('Head top', 'top_head' -> 'head_top')."""
    key = "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())
    return KEYPOINT_ALIASES.get(key, key)


def find_keypoint_set(names: Sequence[str]) -> KeypointSet | None:
    """The built-in set whose keypoint names are these, in this order (compared by canonical name;
    'head' also matches 'head_top', as CrowdPose's own files call it), or None."""
    canonical = [canonical_keypoint_name(str(n)) for n in names]
    for set_name in available():
        candidate = get_keypoint_set(set_name)
        if len(candidate.names) == len(canonical) and all(
                a == b or {a, b} == {"head", "head_top"}
                for a, b in zip(canonical, (canonical_keypoint_name(n) for n in candidate.names))):
            return candidate
    return None


def _flip_pairs_by_name(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        if "left" in name:
            j = index.get(name.replace("left", "right"))
            if j is not None:
                pairs.append((i, j))
    return tuple(pairs)


def union_mapping(source: str | KeypointSet, target: str | KeypointSet) -> list[tuple[int, int]]:
    """(source_index, target_index) for every joint the two sets share, matched by canonical name."""
    src, dst = get_keypoint_set(source), get_keypoint_set(target)
    target_index: dict[str, int] = {}
    for i, name in enumerate(dst.names):
        target_index.setdefault(canonical_keypoint_name(name), i)
    mapping = []
    for i, name in enumerate(src.names):
        j = target_index.get(canonical_keypoint_name(name))
        if j is not None:
            mapping.append((i, j))
    return mapping


def remap_keypoints(keypoints: np.ndarray, source: str | KeypointSet, target: str | KeypointSet) -> np.ndarray:
    """Move (N, K_source, 3) keypoints into the target set's order; joints the source lacks get v=0."""
    src, dst = get_keypoint_set(source), get_keypoint_set(target)
    keypoints = np.asarray(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (src.num_keypoints, 3):
        raise KeypointSetError(f"remap_keypoints: expected (N, {src.num_keypoints}, 3) keypoints for "
                               f"'{src.name}', got {keypoints.shape}")
    out = np.zeros((keypoints.shape[0], dst.num_keypoints, 3), dtype=keypoints.dtype)
    mapping = union_mapping(src, dst)
    if mapping:
        s, t = map(list, zip(*mapping))
        out[:, t] = keypoints[:, s]
    return out
