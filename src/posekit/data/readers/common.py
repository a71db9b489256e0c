"""Helpers shared by the readers."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from posekit.data.records import DataError

# Readers that derive a person box from its joints pad it by this fraction of its width/height on
# each side, so that hands, feet and the head (joints mark their centres) fall inside it.
BBOX_PADDING = 0.1


def load_json(path: str | Path, what: str = "annotation") -> Any:
    """Read a JSON file; DataError naming the file (and what it is) if missing, unreadable or malformed."""
    path = Path(path)
    try:
        with path.open() as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON in {what} file ({exc.msg} at line {exc.lineno}, "
                        f"column {exc.colno})") from None
    except RecursionError:
        raise DataError(f"{path}: {what} file nested too deeply for the JSON reader") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what} file ({exc})") from None


def load_mat(path: Path, what: str) -> dict[str, Any]:
    """Read a MATLAB .mat file; DataError naming the file if it is missing or unreadable."""
    import scipy.io
    try:
        return scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found") from None
    except Exception as exc:  # scipy raises several types for a corrupt .mat
        raise DataError(f"{path}: cannot read MATLAB file: {exc}") from None


def image_path(path: Path, where: str, key: str, root: str, file_name: str, allow_absolute: bool) -> str:
    """The absolute path of the image that annotation file `path` names at `where` (field `key`), which
    must lie inside the image root `root` unless allow_absolute (compared on the normalised path, so a
    dataset folder that is a symlink still works); DataError otherwise."""
    full = os.path.normpath(os.path.join(root, file_name))
    if allow_absolute or full == root or full.startswith(root.rstrip(os.sep) + os.sep):
        return full
    how = "is an absolute path" if os.path.isabs(file_name) else "leads"
    raise DataError(f"{path}: {where}: '{key}' {file_name!r} {how} outside the image root {root}; "
                    "give the image root that holds it, or allow absolute paths for a trusted file "
                    "(allow_absolute_paths=True; config: data.allow_absolute_paths=true)")


def bbox_from_keypoints(keypoints: np.ndarray, width: int, height: int,
                        padding: float = BBOX_PADDING) -> np.ndarray:
    """x, y, w, h around the labelled (v > 0) joints, padded by `padding` of the box size on each
    side and clipped to the image; zeros when no joint is labelled."""
    labelled = keypoints[keypoints[:, 2] > 0, :2]
    if len(labelled) == 0:
        return np.zeros(4, dtype=np.float32)
    x1, y1 = labelled.min(axis=0)
    x2, y2 = labelled.max(axis=0)
    pad_x, pad_y = padding * (x2 - x1), padding * (y2 - y1)
    x1, x2 = np.clip([x1 - pad_x, x2 + pad_x], 0, width)
    y1, y2 = np.clip([y1 - pad_y, y2 + pad_y], 0, height)
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float32)
