"""Image -> 8-bit grey -> square resize -> 3x3 Gaussian blur + Sobel gradient.

GBR works on 8-bit grey levels, as the reference does (it runs on OpenCV uint8 images):
every input is quantised to integers 0..255 before the balls are grown, which makes the
purity test, the 256-bin entropy and the uint8/float equivalence exact.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

# ITU-R BT.601 luma weights (what OpenCV's RGB->grey uses), in thousandths so the
# conversion of uint8 channels is exact integer arithmetic.
_LUMA_PER_MILLE = np.array([299, 587, 114], dtype=np.int64)


def validate_image(image: np.ndarray) -> np.ndarray:
    """Checks shape, dtype and value range; returns the image as an array.

    Raises:
        ValueError: empty array, wrong number of dimensions or channels, unsupported dtype,
            NaN/inf, or values outside [0, 255].
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got an array with shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must have 1, 3 or 4 channels, got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_ or not (
        np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    ):
        raise ValueError(f"image dtype must be uint8, integer or float, got {image.dtype}")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    low, high = image.min(), image.max()
    if low < 0 or high > 255:
        raise ValueError(f"image values must lie in [0, 1] or [0, 255], got [{low}, {high}]")
    return image


def to_uint8_channels(image: np.ndarray) -> np.ndarray:
    """Quantises a validated image to uint8.

    Float images whose maximum is <= 1.0 are taken as [0, 1] and scaled by 255; other
    float images are taken as [0, 255]. Values are rounded to the nearest integer, so a
    uint8 image u and the float image u / 255 give identical results.
    """
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.floating):
        scale = 255.0 if image.max() <= 1.0 else 1.0
        return np.rint(image.astype(np.float64) * scale).astype(np.uint8)
    return image.astype(np.uint8)


def to_grey(image: np.ndarray) -> np.ndarray:
    """HxW or HxWxC uint8 -> HxW uint8 grey (BT.601 luma, rounded; alpha ignored)."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    weighted = image[:, :, :3].astype(np.int64) @ _LUMA_PER_MILLE
    return ((weighted + 500) // 1000).astype(np.uint8)


@lru_cache(maxsize=64)
def _resample_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear-interpolation taps with pixel-centre alignment, as (first input, weights).

    Output pixel o reads inputs first[o] .. first[o] + taps - 1 with weights[o]. When
    shrinking, the triangle filter is widened by the shrink factor so every input pixel
    contributes (plain bilinear would alias a 224 -> 48 reduction).
    """
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5
    taps = min(int(np.ceil(2 * support)) + 1, n_in)
    first = np.clip(np.floor(centres - support).astype(np.int64) + 1, 0, n_in - taps)
    positions = first[:, None] + np.arange(taps)[None, :]
    weights = np.maximum(0.0, 1.0 - np.abs(positions - centres[:, None]) / support)
    weights /= weights.sum(axis=1, keepdims=True)
    return first, weights


@numba.njit(cache=True)
def _resample(grey, row_first, row_weights, col_first, col_weights):
    # Separable: rows first into a float buffer, then columns, rounding once at the end.
    size_r, size_c = row_first.size, col_first.size
    width = grey.shape[1]
    rows = np.zeros((size_r, width), dtype=np.float64)
    for o in range(size_r):
        for k in range(row_weights.shape[1]):
            w = row_weights[o, k]
            src = row_first[o] + k
            for c in range(width):
                rows[o, c] += w * grey[src, c]
    out = np.empty((size_r, size_c), dtype=np.uint8)
    for o in range(size_r):
        for q in range(size_c):
            total = 0.0
            for k in range(col_weights.shape[1]):
                total += col_weights[q, k] * rows[o, col_first[q] + k]
            out[o, q] = min(max(np.rint(total), 0.0), 255.0)
    return out


def _writable(array: np.ndarray) -> np.ndarray:
    # numba compiles read-only and C-contiguous-or-not arrays as distinct types (e.g.
    # np.asarray of a PIL image is read-only): one layout means one compiled version.
    return np.require(array, requirements=["C", "W"])


def resize_grey(grey: np.ndarray, size: int | None) -> np.ndarray:
    """Resizes an HxW uint8 image to size x size (None keeps it), rounding back to uint8."""
    height, width = grey.shape
    if size is None or (height == size and width == size):
        return grey
    row_first, row_weights = _resample_taps(height, size)
    col_first, col_weights = _resample_taps(width, size)
    return _resample(_writable(grey), row_first, row_weights, col_first, col_weights)


@numba.njit(cache=True)
def _pad_reflect(image):
    # One-pixel border with OpenCV's default rule (BORDER_REFLECT_101: -1 -> 1, n -> n - 2;
    # a single pixel reflects onto itself), as int32 so the filters below are plain,
    # vectorisable loops with constant offsets.
    height, width = image.shape
    padded = np.empty((height + 2, width + 2), dtype=np.int32)
    for r in range(-1, height + 1):
        src_r = abs(r) if r < height else 2 * height - 2 - r
        src_r = min(max(src_r, 0), height - 1)
        for c in range(-1, width + 1):
            src_c = abs(c) if c < width else 2 * width - 2 - c
            src_c = min(max(src_c, 0), width - 1)
            padded[r + 1, c + 1] = image[src_r, src_c]
    return padded


@numba.njit(cache=True)
def blur_and_gradient(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3x3 Gaussian blur and Sobel gradient of an HxW uint8 image.

    Returns:
        blurred: HxW uint8, kernel [1, 2, 1] x [1, 2, 1] / 16, rounded half up.
        gradient: HxW int16, min(|Sobel_x|, 255) + min(|Sobel_y|, 255) computed on the
            blurred image: exactly twice 0.5*|Sx| + 0.5*|Sy|, kept integral so equal
            gradients stay equal (ties are then broken by the seed permutation).
    """
    height, width = grey.shape
    p = _pad_reflect(grey)
    blurred = np.empty((height, width), dtype=np.uint8)
    for r in range(height):
        for c in range(width):
            total = (p[r, c] + 2 * p[r, c + 1] + p[r, c + 2]
                     + 2 * (p[r + 1, c] + 2 * p[r + 1, c + 1] + p[r + 1, c + 2])
                     + p[r + 2, c] + 2 * p[r + 2, c + 1] + p[r + 2, c + 2])
            blurred[r, c] = (total + 8) >> 4
    q = _pad_reflect(blurred)
    gradient = np.empty((height, width), dtype=np.int16)
    for r in range(height):
        for c in range(width):
            sx = abs((q[r, c + 2] + 2 * q[r + 1, c + 2] + q[r + 2, c + 2])
                     - (q[r, c] + 2 * q[r + 1, c] + q[r + 2, c]))
            sy = abs((q[r + 2, c] + 2 * q[r + 2, c + 1] + q[r + 2, c + 2])
                     - (q[r, c] + 2 * q[r, c + 1] + q[r, c + 2]))
            gradient[r, c] = min(sx, 255) + min(sy, 255)
    return blurred, gradient


def preprocess(image: np.ndarray, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Any accepted image -> (blurred uint8 grey, int16 gradient) at size x size."""
    grey = to_grey(to_uint8_channels(validate_image(image)))
    grey = _writable(resize_grey(grey, size))
    return blur_and_gradient(grey)
