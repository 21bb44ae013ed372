"""Framing measured on crops: landmarks mapped back into the crop, and the eye fractions."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.faces import FaceParams, FaceStep
from fer_graph.faces.framing import crop_landmarks, eye_framing

from faces_helpers import fer_face


def test_eye_framing_of_known_points():
    # image-right eye corners at x 30, 34; image-left at 14, 18; all at y 19.5 (index coordinates)
    points = np.array([[34, 19.5], [30, 19.5], [14, 19.5], [18, 19.5], [24, 30]], float)
    framing = eye_framing(points, 48)
    assert framing["eye_distance"] == pytest.approx(16 / 48)
    assert framing["eye_height"] == pytest.approx(20 / 48)
    assert framing["eye_center"] == pytest.approx(24.5 / 48)
    assert framing["roll_degrees"] == pytest.approx(0.0)


@pytest.mark.datasets
def test_crop_landmarks_follow_the_face_when_the_crop_is_enlarged(fer2013_dir):
    step = FaceStep(FaceParams(size=48, upsample=0))
    crop = fer_face(fer2013_dir)
    small = crop_landmarks(step, crop)
    assert small is not None and small.shape == (5, 2)
    assert (small >= 0).all() and (small < 48).all()
    # The same face at twice the size: its points are the first ones scaled about the corner.
    twice = crop_landmarks(step, np.kron(crop, np.ones((2, 2), np.uint8)))
    np.testing.assert_allclose(twice, (small + 0.5) * 2 - 0.5, atol=2.5)
