"""Person detector for top-down inference: an end-to-end ONNX RTMDet (NMS inside the graph).

Works with the RTMDet-nano person model (320x320, outputs `dets` (N, 5) x1 y1 x2 y2 score and
`labels`). Preprocessing follows mmdet's RTMDet: BGR input, keep-ratio resize, pad with 114,
mean (103.53, 116.28, 123.675), std (57.375, 57.12, 58.395).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)


def check_detector_io(path: Path, session: Any) -> None:
    """ValueError unless the model has the end-to-end RTMDet interface this class feeds and reads: one
    image input (batch, 3, H, W) and two outputs, dets (batch, N, 5) and labels (batch, N). A pose model
    given as the detector otherwise fails on the first image with onnxruntime's shape error."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    image = inputs[0].shape if len(inputs) == 1 else []
    # A dimension is an int when fixed, a name (or None) when dynamic: only a fixed one can be wrong.
    fits = len(image) == 4 and not (isinstance(image[1], int) and image[1] != 3)
    if not fits or [len(o.shape) for o in outputs] != [3, 2]:
        got = ", ".join(f"{o.name} {list(o.shape)}" for o in outputs)
        raise ValueError(f"{path}: not an end-to-end person detector (RTMDet-style: one image input "
                         f"[batch, 3, H, W], outputs dets [batch, N, 5] and labels [batch, N]); it has "
                         f"input(s) {[list(i.shape) for i in inputs]} and outputs {got}")


class PersonDetector:
    """Callable person detector on onnxruntime's CPU provider: RGB image -> (N, 5) boxes.

    `input_size`: the square network input in pixels; `score_threshold`: boxes scoring below it are
    dropped; `threads`: onnxruntime intra-op threads (0 = its default).
    """

    def __init__(self, onnx_path: str | Path, input_size: int = 320, score_threshold: float = 0.3,
                 threads: int = 0):
        import onnxruntime as ort
        path = Path(onnx_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: person detector ONNX file not found")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad model file
            raise ValueError(f"{path}: cannot load detector ONNX model: {exc}") from None
        check_detector_io(path, self.session)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = input_size
        self.score_threshold = score_threshold

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        """Person boxes (N, 5): x, y, w, h, score in original-image pixels, best first."""
        bgr = image_rgb[..., ::-1]
        h, w = bgr.shape[:2]
        ratio = min(self.input_size / h, self.input_size / w)
        resized = cv2.resize(bgr, (max(1, int(w * ratio)), max(1, int(h * ratio))), interpolation=cv2.INTER_LINEAR)
        padded = np.full((self.input_size, self.input_size, 3), 114, dtype=np.uint8)
        padded[:resized.shape[0], :resized.shape[1]] = resized
        x = ((padded.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]
        dets, labels = self.session.run(None, {self.input_name: x})
        dets, labels = dets[0], labels[0]
        keep = (labels == 0) & (dets[:, 4] >= self.score_threshold)
        dets = dets[keep]
        boxes = dets[:, :4] / ratio
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w - 1)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h - 1)
        xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1], dets[:, 4]])
        xywh = xywh[(xywh[:, 2] > 1) & (xywh[:, 3] > 1)]
        return xywh[np.argsort(-xywh[:, 4])].astype(np.float32)
