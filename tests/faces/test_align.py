"""Eye-level alignment maths: where the eyes land, the roll angle, and the warped pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fer_graph.faces.align import crop_matrix, crop_to_image, eye_centres, image_to_crop, roll_degrees, warp_crop


def _landmarks(left_eye, right_eye, nose=(0.0, 0.0)) -> np.ndarray:
    """dlib order: image-right eye corners, image-left eye corners, nose; corners 4 px either side."""
    (lx, ly), (rx, ry) = left_eye, right_eye
    return np.array([(rx + 4, ry), (rx - 4, ry), (lx - 4, ly), (lx + 4, ly), nose], np.float64)


@pytest.mark.parametrize("turn", [-25.0, 0.0, 10.0, 40.0])
def test_eyes_land_level_at_the_framing_for_any_turn(turn):
    centre, half = np.array([200.0, 150.0]), 40.0
    direction = np.array([math.cos(math.radians(turn)), math.sin(math.radians(turn))])
    points = _landmarks(centre - half * direction, centre + half * direction)
    assert roll_degrees(points) == pytest.approx(turn, abs=1e-9)
    matrix = crop_matrix(points, 48, eye_distance=0.36, eye_height=0.40, eye_center=0.5)
    left, right = eye_centres(points)
    in_crop = image_to_crop(matrix, np.array([left, right])) + 0.5  # edge coordinates
    np.testing.assert_allclose(in_crop, [[(0.5 - 0.18) * 48, 0.4 * 48], [(0.5 + 0.18) * 48, 0.4 * 48]], atol=1e-9)
    np.testing.assert_allclose(crop_to_image(matrix, image_to_crop(matrix, points)), points, atol=1e-9)


def test_warp_moves_marked_pixels_to_the_framed_places():
    image = np.zeros((300, 400), np.uint8)
    left, right = (150, 120), (230, 160)  # (x, y): a turned eye line
    for x, y in (left, right):
        image[y - 2:y + 3, x - 2:x + 3] = 255
    points = _landmarks(left, right)
    crop = warp_crop(image, crop_matrix(points, 64, 0.4, 0.3, 0.5), 64)
    assert crop.shape == (64, 64)
    for expected_x in ((0.5 - 0.2) * 64 - 0.5, (0.5 + 0.2) * 64 - 0.5):
        patch = crop[:, int(expected_x) - 6:int(expected_x) + 7].astype(float)
        rows, cols = np.nonzero(patch > 0.5 * patch.max())
        assert np.mean(rows) == pytest.approx(0.3 * 64 - 0.5, abs=1.0)
        assert np.mean(cols) + int(expected_x) - 6 == pytest.approx(expected_x, abs=1.0)


def test_strong_shrinking_is_box_reduced_first_so_fine_stripes_average_out():
    stripes = np.zeros((800, 800), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: point sampling at 1/10 scale would alias
    points = _landmarks((300, 400), (500, 400))
    crop = warp_crop(stripes, crop_matrix(points, 40, 0.5, 0.5, 0.5), 40)
    assert crop.std() < 12 and abs(crop.mean() - 127.5) < 12


def test_coincident_eyes_are_refused():
    with pytest.raises(ValueError, match="coincide"):
        crop_matrix(_landmarks((10, 10), (10, 10)), 48, 0.36, 0.4, 0.5)
