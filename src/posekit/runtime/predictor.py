"""A callable pose predictor over an exported ONNX file: person boxes -> crops -> one onnxruntime call
for all crops (and their mirrors, for the flip test) -> vectorised decode -> poses in image pixels.

Results have the form of `posekit.load()`'s: a list of dicts with "keypoints" ((K, 3) float32 x, y,
score), "bbox" (x, y, w, h) and "score", computed the way the torch Predictor computes them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from posekit.data.records import Persons
from posekit.data.transforms.geometry import keep_second, refine_box
from posekit.data.transforms.preprocess import Preprocess, boxes_per_image, crop_batch, person_boxes, to_image
from posekit.keypoints import KeypointSet
from posekit.runtime.decode import build_decoder
from posekit.runtime.metadata import ModelMetadata

ImageLike = Union[str, Path, np.ndarray]
# COCO-style rescoring, as TopDownEstimator.predict: mean of the keypoint scores above this.
CONFIDENT_KEYPOINT = 0.2
# The most crops (flip test: twice as many network inputs) one onnxruntime call takes, and the most
# images of a list read at once.
BATCH = 32


class RuntimePredictor:
    """Call on an image path or an H x W x 3 uint8 array (BGR as cv2.imread gives; `rgb=True` for RGB),
    or on a list of them. Boxes come from `boxes=` ((N, 4) x, y, w, h or (N, 5) with score; empty for
    nobody), else the detector, else the whole image is the one box."""

    def __init__(self, path: str | Path, detector: str | Path | Callable[[np.ndarray], np.ndarray] | None = None,
                 threads: int = 0, flip_test: bool = True):
        path = Path(path)
        self.session = _session(path, threads)
        self.metadata = ModelMetadata.from_props(self.session.get_modelmeta().custom_metadata_map, str(path))
        meta = self.metadata
        if meta.paradigm != "topdown":
            raise ValueError(f"{path}: a {meta.paradigm} model ({meta.model}); posekit.runtime runs top-down models "
                             "only (run bottom-up ones with posekit.load(CHECKPOINT))")
        self.decoder = build_decoder(meta.codec, meta.codec_params, str(path))
        # The torch Predictor's crops, value for value: the same preprocessing module makes them.
        self.preprocessing = Preprocess(meta.input_size, meta.bbox_padding,
                                        whole_image_padding=meta.whole_image_padding)
        image_input = self.session.get_inputs()[0]
        if list(image_input.shape[2:]) != [meta.input_size[1], meta.input_size[0]]:
            raise ValueError(f"{path}: the graph takes {image_input.shape[2:]} (h, w) crops but its metadata "
                             f"says input_size {meta.input_size} (w, h)")
        self.input_name = image_input.name
        flip_pairs = tuple((i, j) for i, j in enumerate(meta.flip_index) if i < j)
        self.keypoint_set = KeypointSet(meta.keypoint_set, meta.keypoint_names, flip_pairs, skeleton=meta.skeleton)
        self.flip_index = np.asarray(meta.flip_index, dtype=np.int64)
        if isinstance(detector, (str, Path)):
            from posekit.inference.detector import PersonDetector
            detector = PersonDetector(detector, threads=threads)
        self.detector = detector
        self.flip_test = flip_test

    @property
    def input_size(self) -> tuple[int, int]:
        """Crop size (w, h) in pixels, from the file's metadata."""
        return self.metadata.input_size

    def __repr__(self) -> str:
        w, h = self.input_size
        return f"RuntimePredictor({self.metadata.model}, {self.metadata.keypoint_set}, input {w}x{h}, onnxruntime)"

    def __call__(self, images: ImageLike | list[ImageLike], boxes: Any = None,
                 rgb: bool = False) -> Persons | list[Persons]:
        """Persons in one image (keypoints (K, 3) x, y, score in image pixels, bbox, score), or one
        such list per image for a list. For a list, `boxes` is one set for every image, or a list of
        one (N, 4/5) set per image; the crops of BATCH images at a time run through the network
        together (BATCH images in memory at once, however long the list)."""
        if not isinstance(images, (list, tuple)):
            return self._many([images], [boxes], rgb)[0]
        boxes = boxes_per_image(boxes, len(images))
        return [persons for start in range(0, len(images), BATCH)
                for persons in self._many(list(images[start:start + BATCH]), boxes[start:start + BATCH], rgb)]

    def _many(self, images: list[ImageLike], boxes: list[Any], rgb: bool) -> list[Persons]:
        read = [read_image(image, rgb) for image in images]
        whole_image = [given is None and self.detector is None for given in boxes]
        jobs = [(image, self.boxes_for(image, given, image_rgb), image_rgb, whole)
                for (image, image_rgb), given, whole in zip(read, boxes, whole_image)]
        results = self._poses(jobs)
        # As the torch Predictor: refine_looks closer looks, each at the box of the last kept look's
        # keypoints, cropped as a person box, kept unless it found nothing (then no further look);
        # each round of looks in one run for all images.
        looking = [i for i, (persons, _) in enumerate(results) if whole_image[i] and persons] if self.metadata.refine else []
        for _ in range(self.metadata.refine_looks if looking else 0):
            closer_jobs, targets = [], []
            for i in looking:
                image, image_rgb = read[i]
                box = refine_box(results[i][1][0], image.shape[1], image.shape[0], padding=self.metadata.refine)
                if box is not None:
                    closer_jobs.append((image, np.append(box, 1.0)[None], image_rgb, False))
                    targets.append(i)
            looking = []
            for i, closer in zip(targets, self._poses(closer_jobs)):
                if keep_second(closer[0][0]["score"]):
                    results[i] = closer
                    looking.append(i)
        return [persons for persons, _ in results]

    def _poses(self, jobs: list[tuple[np.ndarray, np.ndarray, bool, bool]]) -> list[tuple[Persons, np.ndarray]]:
        """(image, boxes, rgb, whole_image) per image -> its Persons, and their keypoints (N, K, 3) in
        float64, every crop in one network run (in chunks of BATCH crops, to bound memory). A closer look
        is boxed from the float64 keypoints, as the torch Predictor boxes it: from the float32 ones the
        users get, its box would move by float32 rounding (1e-5 px) and the crop with it."""
        counts = [len(boxes) for _, boxes, _, _ in jobs]
        if not sum(counts):
            return [(Persons([], self.keypoint_set, self.metadata.keypoint_threshold),
                     np.zeros((0, len(self.keypoint_set.names), 3))) for _ in jobs]
        crops = [self.preprocess(image, boxes, image_rgb, whole) for image, boxes, image_rgb, whole in jobs if len(boxes)]
        batch = np.concatenate([c[0] for c in crops])
        warps = np.concatenate([c[1] for c in crops])
        outputs = [self.infer(batch[start:start + BATCH]) for start in range(0, len(batch), BATCH)]
        outputs = outputs[0] if len(outputs) == 1 else _concatenate(outputs)
        keypoints = self.image_keypoints(outputs, warps)
        persons = self.persons(keypoints, np.concatenate([boxes for _, boxes, _, _ in jobs]))
        bounds = np.cumsum([0] + counts)
        return [(Persons(persons[a:b], self.keypoint_set, self.metadata.keypoint_threshold), keypoints[a:b])
                for a, b in zip(bounds[:-1], bounds[1:])]

    # The three stages, public so that benchmarks can time them apart.
    def boxes_for(self, image: np.ndarray, boxes: np.ndarray | None, rgb: bool) -> np.ndarray:
        """(N, 5) x, y, w, h, score: the given boxes (empty: nobody), else the detector's, else the
        whole image."""
        if boxes is not None:
            return person_boxes(boxes)
        if self.detector is not None:
            return person_boxes(self.detector(image if rgb else image[..., ::-1]), "detector output")
        h, w = image.shape[:2]
        return np.array([[0.0, 0.0, w, h, 1.0]])

    def preprocess(self, image: np.ndarray, boxes: np.ndarray, rgb: bool,
                   whole_image: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Normalised crops (N, 3, h, w) and the warps (N, 2, 3) that made them; whole_image: the one
        box is the whole image (padded by the file's whole_image_padding)."""
        warps = np.stack([self.preprocessing.crop_warp(box[:4], whole_image) for box in boxes])
        return crop_batch(image, warps, self.input_size, rgb), warps

    def infer(self, batch: np.ndarray) -> Any:
        """Raw outputs for the crops, flip-averaged when flip_test; crops and mirrors in one run."""
        if self.flip_test:
            batch = np.concatenate([batch, batch[..., ::-1]])
        outputs = self.session.run(None, {self.input_name: batch})
        if not self.flip_test:
            return outputs[0] if len(outputs) == 1 else tuple(outputs)
        n = len(batch) // 2
        plain = [o[:n] for o in outputs]
        mirrored = [o[n:] for o in outputs]
        if len(outputs) == 1:
            return self.decoder.flip_average(plain[0], mirrored[0], self.flip_index)
        return self.decoder.flip_average(tuple(plain), tuple(mirrored), self.flip_index)

    def decode(self, outputs: Any, warps: np.ndarray, boxes: np.ndarray) -> Persons:
        """One person per box: keypoints (K, 3) float32 in image pixels (through `warps`), and score =
        box score x mean of the keypoint scores above CONFIDENT_KEYPOINT (0 if none)."""
        return Persons(self.persons(self.image_keypoints(outputs, warps), boxes), self.keypoint_set,
                       self.metadata.keypoint_threshold)

    def image_keypoints(self, outputs: Any, warps: np.ndarray) -> np.ndarray:
        """Raw outputs -> keypoints (N, K, 3) float64: x, y in image pixels (through `warps`), score."""
        keypoints, scores = self.decoder.decode(outputs)
        return np.concatenate([to_image(keypoints, warps), scores.astype(np.float64)[..., None]], axis=-1)

    @staticmethod
    def persons(keypoints: np.ndarray, boxes: np.ndarray) -> list[dict[str, Any]]:
        """Person dicts from float64 keypoints (N, K, 3) and their boxes (N, 5)."""
        scores = keypoints[..., 2]
        confident = scores > CONFIDENT_KEYPOINT
        counts = confident.sum(axis=1)
        pose_scores = np.where(counts > 0, (scores * confident).sum(axis=1) / np.maximum(counts, 1), 0.0)
        pose_scores = pose_scores * boxes[:, 4]
        rounded = keypoints.astype(np.float32)
        return [{"keypoints": rounded[i], "score": float(pose_scores[i]), "bbox": tuple(float(v) for v in boxes[i, :4])}
                for i in range(len(boxes))]


def _concatenate(outputs: list[Any]) -> Any:
    """Chunks of infer()'s result (arrays, or tuples of arrays) joined along the batch."""
    if isinstance(outputs[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*outputs))
    return np.concatenate(outputs)


def read_image(image: ImageLike, rgb: bool) -> tuple[np.ndarray, bool]:
    """A path (read as RGB) or an H x W x 3 uint8 array (grayscale and a fourth, alpha channel are taken
    too: data.io.image_array) -> (array, whether it is RGB)."""
    from posekit.data.io import image_array, load_image
    if isinstance(image, (str, Path)):
        return load_image(image, orientation=True), True
    return image_array(image), rgb


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad model file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not an ONNX model onnxruntime can load ({reason})") from None
