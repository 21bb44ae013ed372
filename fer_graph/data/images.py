"""Decode one image file completely and robustly (any depth, truncation caught here)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)


class ImageReadError(Exception):
    """An image file that cannot be decoded completely.

    Attributes:
        path: the file (or ``csv:row`` description) that failed.
        reason: a short human-readable cause.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def load_image(path: str | os.PathLike, data: bytes | None = None) -> np.ndarray:
    """Decode an image file completely.

    16-bit grey is scaled by 255/65535 and 32-bit integer grey by 255/max. 32-bit float grey
    (mode ``F``, e.g. a float TIFF) follows ``float_to_uint8``: values in [0, 1] are scaled by
    255, values in [0, 255] kept, any other range min-max scaled to [0, 255].

    Args:
        path: the image file; with ``data``, only the name errors give.
        data: the file's bytes, read elsewhere (a Ray worker that cannot see ``path``).

    Returns:
        uint8 array, HxW for grey images, HxWx3 for colour ones (alpha is dropped).

    Raises:
        ImageReadError: missing, empty, truncated, corrupt or non-image file, a broken symbolic
            link, or a float image with NaN or infinite values.
    """
    path = Path(path)
    if data is not None:
        if not data:
            raise ImageReadError(path, "empty file (0 bytes)")
        return _decode(io.BytesIO(data), path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if path.is_symlink():
            target = os.readlink(path)
            raise ImageReadError(path, f"broken symbolic link (target {target} does not exist)") from None
        raise ImageReadError(path, "file not found") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot access file: {exc.strerror or exc}") from None
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    if size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    return _decode(path, path)


def _decode(source: Path | io.BytesIO, path: Path) -> np.ndarray:
    try:
        with Image.open(source) as img:
            img.load()  # force the full decode so truncation is caught here, not later
            if img.mode == "F":
                return float_to_uint8(np.asarray(img, dtype=np.float64), path)
            return _to_array(img)
    except ImageReadError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageReadError(path, "not an image (unrecognised file format)") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for bad data
        message = str(exc) or type(exc).__name__
        raise ImageReadError(path, f"truncated or corrupt image ({message})") from None


def float_to_uint8(values: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Float pixels as uint8 by range: [0, 1] x255, [0, 255] as is, else min-max to [0, 255].

    The first two bands match ``fer_graph.granular`` (a uint8 image u, u / 255 and u as floats
    give one graph); min-max keeps the picture of other ranges (HDR, signed data) instead of
    clipping it to one grey level. NaN or infinite values raise ImageReadError naming ``path``.
    """
    if not np.isfinite(values).all():
        raise ImageReadError(path, "float image with NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif low < 0.0 or high > 255.0:
        values = (values - low) * (255.0 / (high - low))  # high > low: the range exceeds [0, 255]
    return np.rint(values).astype(np.uint8)


def _to_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale to 8 bits instead of clipping everything above 255
        wide = np.asarray(img, dtype=np.int64)
        top = 65535 if img.mode.startswith("I;16") else max(int(wide.max()), 1)
        return np.clip(wide * 255 // top, 0, 255).astype(np.uint8)
    if img.mode in ("L", "1", "LA"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def crop_box(image: np.ndarray, box: tuple[int, int, int, int], path: str | os.PathLike) -> np.ndarray:
    """The ``(x, y, width, height)`` pixel box of ``image``, clipped to the image.

    Raises:
        ImageReadError: the box lies outside the image or is empty (names ``path``).
    """
    x, y, width, height = (int(v) for v in box)
    top, left = max(y, 0), max(x, 0)
    bottom, right = min(y + height, image.shape[0]), min(x + width, image.shape[1])
    if bottom <= top or right <= left:
        raise ImageReadError(path, f"face box x={x} y={y} w={width} h={height} lies outside the "
                                   f"{image.shape[1]}x{image.shape[0]} image")
    return image[top:bottom, left:right]
