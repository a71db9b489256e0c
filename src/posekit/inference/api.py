"""The Python front door: `posekit.load()` gives a callable pose model.

    import posekit
    model = posekit.load()                       # the shipped default model
    persons = model("photo.jpg")                 # or an H x W x 3 uint8 BGR array (as cv2.imread gives)
    for p in persons:
        p["keypoints"]                            # (K, 3) float: x, y, score in image pixels
        p["bbox"], p["score"]                     # (x, y, w, h) and the pose score
    cv2.imwrite("out.jpg", posekit.draw(cv2.imread("photo.jpg"), persons, model.keypoint_set))

The model carries its own preprocessing (input size, box padding, bottom-up resize), so nothing is
passed twice. Sources `load` understands: nothing (the default model), a posekit model file, a posekit
training checkpoint, an official checkpoint (MMPose RTMPose/DWPose, HigherHRNet, Simple Pose; the format
is read from its weights, see posekit.models.official), or a zoo name with `weights=` one of those files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch

from posekit.data.records import Persons
from posekit.data.transforms.preprocess import boxes_per_image
from posekit.keypoints import KeypointSet

__all__ = ["PoseModel", "Persons", "load", "draw"]

ImageLike = Union[str, Path, np.ndarray]


class PoseModel:
    """A loaded estimator with its preprocessing; call it on one image or a list of images.

    An array is taken as BGR (OpenCV's order); pass `rgb=True` to the call for RGB arrays. Top-down
    models find persons with `detector` (an RTMDet ONNX path or a callable image_rgb -> (N, 5) x, y, w,
    h, score), else take the whole image as the one person's box; `boxes=` overrides both per call.
    refine (a model file's setting): with the whole image as the box, a second look at a crop around
    the first pass's keypoints (inference.predictor.Predictor).
    """

    def __init__(self, estimator: Any, paradigm: str, input_size: Sequence[int] | None = None,
                 bbox_padding: float | None = None, detector: Any = None, device: str | torch.device = "cpu",
                 flip_test: bool = True, name: str = "", info: dict | None = None, refine: float = 0.0,
                 keypoint_threshold: float = 0.3, refine_looks: int = 1):
        from posekit.devices import check_device
        from posekit.inference.predictor import Predictor
        check_device(str(device), "device=")  # a one-line error, not torch's assertion at the first .to()
        if isinstance(detector, (str, Path)):
            from posekit.inference.detector import PersonDetector
            detector = PersonDetector(detector)
        # input_size and bbox_padding: overrides of the estimator's own preprocessing (estimator.preprocess)
        self.predictor = Predictor(estimator, paradigm, input_size, detector, device, flip_test, bbox_padding,
                                   refine=refine, refine_looks=refine_looks)
        self.name = name
        self.info = dict(info or {})
        # The score above which a keypoint is drawn (and counted as found) by default; model files carry
        # their own, chosen on validation data, since SimCC scores are not probabilities.
        self.keypoint_threshold = float(keypoint_threshold)

    @property
    def keypoint_set(self) -> KeypointSet:
        """The keypoint set the model predicts (names, skeleton, flip pairs)."""
        return self.predictor.estimator.keypoint_set

    @property
    def estimator(self) -> Any:
        """The underlying posekit Estimator (network, codec and keypoint set)."""
        return self.predictor.estimator

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (w, h) in pixels."""
        return self.predictor.input_size

    @property
    def paradigm(self) -> str:
        """'topdown' or 'bottomup'."""
        return self.predictor.paradigm

    def __repr__(self) -> str:
        w, h = self.input_size
        return (f"PoseModel({self.name or type(self.estimator.model).__name__}, {self.paradigm}, "
                f"{self.keypoint_set.name}, input {w}x{h})")

    def __call__(self, images: ImageLike | list[ImageLike], boxes: Any = None,
                 rgb: bool = False) -> Persons | list[Persons]:
        """Persons in one image (a list of dicts), or one such list per image for a list of images;
        for a list, `boxes` is one set for every image or a list of one (N, 4/5) set per image."""
        if isinstance(images, (list, tuple)):
            return [self._one(image, given, rgb) for image, given in zip(images, boxes_per_image(boxes, len(images)))]
        return self._one(images, boxes, rgb)

    def _one(self, image: ImageLike, boxes: np.ndarray | None, rgb: bool) -> Persons:
        poses = self.predictor(as_rgb(image, rgb), 0, boxes)
        persons = []
        for pose in poses:
            person = {"keypoints": np.asarray(pose["keypoints"], dtype=np.float32), "score": float(pose["score"])}
            if "bbox" in pose:
                person["bbox"] = tuple(float(v) for v in pose["bbox"])
            else:  # bottom-up: the box around the keypoints it found
                person["bbox"] = keypoint_box(person["keypoints"])
            persons.append(person)
        return Persons(persons, self.keypoint_set, self.keypoint_threshold)


def as_rgb(image: ImageLike, rgb: bool = False) -> np.ndarray:
    """A path (read as RGB) or an H x W x 3 uint8 array (BGR unless rgb=True; grayscale and a fourth,
    alpha channel are taken too: data.io.image_array) -> RGB array."""
    from posekit.data.io import image_array, load_image
    if isinstance(image, (str, Path)):
        return load_image(image, orientation=True)
    array = image_array(image)
    return array if rgb else np.ascontiguousarray(array[..., ::-1])


def keypoint_box(keypoints: np.ndarray) -> tuple[float, float, float, float]:
    scored = keypoints[keypoints[:, 2] > 0] if (keypoints[:, 2] > 0).any() else keypoints
    x1, y1 = scored[:, :2].min(axis=0)
    x2, y2 = scored[:, :2].max(axis=0)
    return float(x1), float(y1), float(x2 - x1), float(y2 - y1)


def load(source: str | Path | None = None, weights: str | Path | None = None, detector: Any = None,
         device: str = "cpu", flip_test: bool = True) -> PoseModel:
    """A PoseModel from the default model (no source, or "default" as `posekit models` names it), a model
    file, a training checkpoint, or a zoo name (with `weights=` a model file or checkpoint for it).

    detector: an RTMDet ONNX path or a callable for top-down models (default: whole image as the box).
    """
    from posekit.inference.model_file import DEFAULT_MODEL
    if weights is not None and (source is None or str(source) == "default" or Path(source).is_file()):
        # A file or the default model carries its own weights; taking it would drop the caller's silently.
        raise ValueError(f"posekit.load(weights='{weights}'): weights= goes with a zoo name, e.g. "
                         f"posekit.load('rtmpose-t', weights='{weights}'); a model file or checkpoint is itself "
                         "the first argument")
    if source is None or (str(source) == "default" and not Path(source).is_file()):
        if not DEFAULT_MODEL.is_file():
            raise FileNotFoundError(f"{DEFAULT_MODEL}: the default model file is missing from this install")
        return _from_file(DEFAULT_MODEL, detector, device, flip_test, expect=None)
    path = Path(source)
    if path.is_file():
        return _from_file(path, detector, device, flip_test, expect=None)
    from posekit.models.zoo import is_model_name
    if not is_model_name(str(source)):
        raise FileNotFoundError(f"{source}: neither a file nor a zoo model name (see `posekit models`)")
    if weights is None:
        raise ValueError(f"posekit.load('{source}'): a zoo name needs weights= (a posekit model file or checkpoint); "
                         "without trained weights the model would predict noise")
    return _from_file(Path(weights), detector, device, flip_test, expect=str(source))


def _from_file(path: Path, detector: Any, device: str, flip_test: bool, expect: str | None) -> PoseModel:
    from posekit.inference.model_file import estimator_from_model_file, is_model_file
    from posekit.models.safe_load import load_runner_checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    # Runner checkpoints (MMEngine's, HigherHRNet's FP16 ones) pickle objects beside the weights, which
    # load as inert placeholders; anything else that is not plain data is refused.
    state = load_runner_checkpoint(path, "posekit model file or checkpoint")
    if isinstance(state, dict) and not is_model_file(state) and "estimator" not in state:
        from posekit.inference.official import official_estimator
        cfg, estimator, _ = official_estimator(state, path, model=expect)
        return PoseModel(estimator, cfg.paradigm, detector=detector, device=device, flip_test=flip_test,
                         name=cfg.model.name)
    if is_model_file(state):
        name = state["model"]
        _check_expected(path, expect, name)
        estimator = estimator_from_model_file(state, str(path))
        return PoseModel(estimator, "topdown", detector=detector, device=device, flip_test=flip_test, name=name,
                         info=state.get("info"), refine=float(state.get("refine", 0.0)),
                         keypoint_threshold=float(state.get("keypoint_threshold", 0.3)),
                         refine_looks=int(state.get("refine_looks", 1)))
    from posekit.experiment import load_experiment
    cfg, estimator = load_experiment(path)
    _check_expected(path, expect, cfg.model.name)
    return PoseModel(estimator, cfg.paradigm, detector=detector, device=device, flip_test=flip_test,
                     name=cfg.model.name)


def _check_expected(path: Path, expect: str | None, found: str) -> None:
    if expect is not None and expect != found:
        raise ValueError(f"{path}: holds weights for '{found}', not '{expect}'")


def draw(image: ImageLike, persons: Sequence[dict[str, Any]], keypoint_set: KeypointSet | None = None,
         threshold: float | None = None, boxes: bool = True, rgb: bool = False) -> np.ndarray:
    """The image (a path, or an array in the caller's channel order) with each person's skeleton drawn;
    returned in the same channel order as given (BGR for arrays and paths, so cv2.imwrite takes it).
    The skeleton is the keypoint set the persons carry (a model's result), else `keypoint_set`."""
    from posekit.visualize import draw_poses
    keypoint_set = keypoint_set or getattr(persons, "keypoint_set", None)
    if threshold is None:  # the model's own, carried by its results; else 0.3
        threshold = getattr(persons, "keypoint_threshold", 0.3)
    if keypoint_set is None:
        raise ValueError("posekit.draw: these persons carry no keypoint set; pass keypoint_set=model.keypoint_set")
    canvas = as_rgb(image, rgb)  # paths read as RGB; arrays converted from BGR unless rgb=True
    drawn = draw_poses(canvas, [p["keypoints"] for p in persons], keypoint_set, threshold,
                       boxes=[p["bbox"] for p in persons if "bbox" in p] if boxes else None)
    return drawn if rgb else np.ascontiguousarray(drawn[..., ::-1])
