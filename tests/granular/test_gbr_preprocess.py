"""preprocess: validation, 8-bit grey, resize, blur and gradient vs direct numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fer_graph.granular.preprocess import (
    blur_and_gradient, preprocess, resize_grey, to_grey, to_uint8_channels, validate_image)
from gbr_helpers import face_like


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 5), np.uint8), "empty"),
    (np.zeros((2, 2, 2, 2, 2), np.uint8), "HxW or HxWxC"),
    (np.zeros(7, np.uint8), "HxW or HxWxC"),
    (np.zeros((4, 4, 2), np.uint8), "channels"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.full((4, 4), np.inf, np.float32), "NaN"),
    (np.full((4, 4), -0.5), r"\[0, 1\] or \[0, 255\]"),
    (np.full((4, 4), 300, np.int32), r"\[0, 1\] or \[0, 255\]"),
    (np.zeros((4, 4), bool), "dtype"),
    (np.zeros((4, 4), complex), "dtype"),
])
def test_bad_input_raises_clear_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        validate_image(bad)


def test_float_unit_range_and_uint8_quantise_identically():
    image = face_like(20, seed=1)
    assert np.array_equal(to_uint8_channels(image / 255.0), image)
    assert np.array_equal(to_uint8_channels((image / 255.0).astype(np.float32)), image)
    assert np.array_equal(to_uint8_channels(image.astype(np.float64)), image)
    assert np.array_equal(to_uint8_channels(image.astype(np.int32)), image)


def test_colour_to_grey_matches_bt601_luma():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    grey = to_grey(rgb)
    assert grey.dtype == np.uint8
    assert np.all(np.abs(grey - luma) <= 0.5 + 1e-9)
    rgba = np.concatenate([rgb, rng.integers(0, 256, (9, 11, 1), dtype=np.uint8)], axis=2)
    assert np.array_equal(to_grey(rgba), grey)
    assert np.array_equal(to_grey(rgb[..., :1]), rgb[..., 0])


def _bilinear_reference(image: np.ndarray, size: int) -> np.ndarray:
    # Upsampling: plain bilinear with pixel-centre alignment and edge clamping.
    height, width = image.shape
    rows = np.clip((np.arange(size) + 0.5) * height / size - 0.5, 0, height - 1)
    cols = np.clip((np.arange(size) + 0.5) * width / size - 0.5, 0, width - 1)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, height - 1), np.minimum(c0 + 1, width - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    img = image.astype(np.float64)
    top = img[r0][:, c0] * (1 - fc) + img[r0][:, c1] * fc
    bottom = img[r1][:, c0] * (1 - fc) + img[r1][:, c1] * fc
    return top * (1 - fr) + bottom * fr


def test_upsampling_is_bilinear():
    image = face_like(12, seed=2)
    resized = resize_grey(image, 40)
    assert resized.shape == (40, 40) and resized.dtype == np.uint8
    assert np.all(np.abs(resized - _bilinear_reference(image, 40)) <= 0.5 + 1e-9)


def test_halving_averages_with_widened_triangle():
    image = face_like(16, seed=4)
    resized = resize_grey(image, 8)
    # A 2x reduction reads inputs 2o-1 .. 2o+2 with weights 1, 3, 3, 1 (renormalised at borders).
    expected = np.zeros((8, 8))
    taps = [(-1, 1.0), (0, 3.0), (1, 3.0), (2, 1.0)]
    for o in range(8):
        for q in range(8):
            total = weight = 0.0
            for dr, wr in taps:
                for dc, wc in taps:
                    r, c = 2 * o + dr, 2 * q + dc
                    if 0 <= r < 16 and 0 <= c < 16:
                        total += wr * wc * image[r, c]
                        weight += wr * wc
            expected[o, q] = total / weight
    assert np.all(np.abs(resized - expected) <= 0.5 + 1e-9)


def test_resize_none_or_same_size_keeps_image():
    image = face_like(10, seed=5)
    assert resize_grey(image, None) is image
    assert resize_grey(image, 10) is image
    assert np.array_equal(resize_grey(np.full((7, 13), 77, np.uint8), 5), np.full((5, 5), 77))


def test_blur_and_gradient_match_scipy():
    image = face_like(23, seed=6)[:, :19].copy()
    blurred, gradient = blur_and_gradient(image)
    kernel = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    smoothed = ndimage.correlate(image.astype(np.float64), kernel, mode="mirror")
    expected_blur = np.floor(smoothed + 0.5)
    assert np.array_equal(blurred, expected_blur)
    b = blurred.astype(np.float64)
    sobel_cols = np.abs(ndimage.sobel(b, axis=1, mode="mirror"))
    sobel_rows = np.abs(ndimage.sobel(b, axis=0, mode="mirror"))
    expected_grad = np.minimum(sobel_cols, 255) + np.minimum(sobel_rows, 255)
    assert np.array_equal(gradient, expected_grad)


def test_tiny_images_do_not_index_out_of_bounds():
    for shape in [(1, 1), (1, 6), (5, 1), (2, 2)]:
        image = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape) * 20
        blurred, gradient = blur_and_gradient(image)
        assert blurred.shape == shape and gradient.shape == shape


def test_preprocess_resizes_any_shape_to_square():
    rng = np.random.default_rng(7)
    blurred, gradient = preprocess(rng.random((31, 57, 3)), 48)
    assert blurred.shape == gradient.shape == (48, 48)
    assert blurred.dtype == np.uint8 and gradient.dtype == np.int16
