"""Image files: decode to RGB arrays, and read sizes from headers without decoding."""
from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import cv2
import numpy as np

from posekit.data.records import DataError

_JPEG_START = b"\xff\xd8"
_JPEG_SCAN = b"\xff\xda"   # start of scan: entropy-coded data follows
_JPEG_END = b"\xff\xd9"    # end of image
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# Larger than any photo a pose model takes; a bound so that a hostile `file_name` (a huge file) cannot
# exhaust memory.
MAX_IMAGE_BYTES = 64 << 20


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (at most `limit`, default all up to MAX_IMAGE_BYTES). Only regular files are
    read: a device (/dev/zero), FIFO or folder is refused without blocking on it."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read image file ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DataError(f"{path}: not a regular file, so not read as an image")
    with os.fdopen(fd, "rb") as f:
        if limit is None and info.st_size > MAX_IMAGE_BYTES:
            raise DataError(f"{path}: image file of {info.st_size / 2**20:.0f} MB is over the "
                            f"{MAX_IMAGE_BYTES >> 20} MB limit")
        try:
            return f.read(MAX_IMAGE_BYTES if limit is None else limit)
        except OSError as exc:
            raise DataError(f"{path}: cannot read image file ({exc.strerror})") from None


def _check_complete(path: Path, data: bytes) -> None:
    # OpenCV decodes a truncated JPEG into a half-grey image with only a stderr warning, so a cut-off
    # file is caught here. Inside entropy-coded data 0xFF is always stuffed (FF00) or a restart
    # marker, so an end-of-image marker must follow the last start-of-scan in a complete file.
    # (Testing only the last two bytes would reject valid files with data appended after the image.)
    if data.startswith(_JPEG_START) and data.rfind(_JPEG_END) < data.rfind(_JPEG_SCAN):
        raise DataError(f"{path}: corrupt image (truncated JPEG: no end-of-image marker after the last scan)")
    if data.startswith(_PNG_SIGNATURE) and b"IEND" not in data[-64:]:
        raise DataError(f"{path}: corrupt image (truncated PNG: no IEND chunk)")


def load_image(path: str | Path, orientation: bool = False) -> np.ndarray:
    """Decode an image file to an (H, W, 3) RGB uint8 array; DataError naming the file if it is
    missing, unreadable, truncated or not an image.

    orientation: apply the file's EXIF orientation, as cv2.imread and image viewers do: what a user
    sees, so inference on photos (a phone's are often stored sideways) takes this. Off for datasets:
    annotations and header sizes are in the stored pixel frame, as in the original HRNet-family loaders."""
    path = Path(path)
    data = _read_bytes(path)
    if not data:
        raise DataError(f"{path}: empty image file")
    _check_complete(path, data)
    flags = cv2.IMREAD_COLOR if orientation else cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None:
        raise DataError(f"{path}: corrupt or unsupported image (OpenCV cannot decode it)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_array(image: object) -> np.ndarray:
    """An in-memory image as the predictors take it: H x W x 3 uint8, C-contiguous, channel order kept.

    A grayscale image (H x W or H x W x 1) is repeated to three channels and a fourth (alpha) channel is
    dropped, as cv2.imread does with such files, so a frame from any camera or a PNG read with
    IMREAD_UNCHANGED runs as its photo would. Anything else (other channel counts, float or 16-bit
    pixels, an empty array) is a ValueError naming its shape and dtype: rescaling pixels silently could
    give a wrong pose, so that stays the caller's choice."""
    array = np.asarray(image)
    if array.dtype == np.uint8 and array.size and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1)):
        array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    elif array.dtype == np.uint8 and array.size and array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or not array.size:
        raise ValueError(f"an image array must be H x W x 3 uint8 (or grayscale, or with an alpha channel) "
                         f"and not empty, got shape {array.shape} dtype {array.dtype}")
    return np.ascontiguousarray(array)


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length field
            pos += 2
            continue
        (length,) = struct.unpack(">H", head[pos + 2:pos + 4])
        # SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header (JPEG/PNG), decoding only as a fallback.

    Reading headers is about 20x faster than decoding (2,000 LSPET images: 0.17 s against 3.2 s).
    """
    path = Path(path)
    head = _read_bytes(path, 1 << 16)
    size = None
    if head.startswith(_JPEG_START):
        size = _jpeg_size(head)
    elif head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR":
        size = struct.unpack(">II", head[16:24])
    if size is not None and size[0] > 0 and size[1] > 0:
        return int(size[0]), int(size[1])
    image = load_image(path)  # EXIF-heavy or exotic files: decode once
    return image.shape[1], image.shape[0]
