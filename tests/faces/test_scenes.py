"""Scenes: a pasted crop lands where its map says, and a scene depends only on its seed."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.faces.scenes import paste_face, random_scene, textured_background


def test_the_pasted_crop_shows_at_the_mapped_places():
    crop = np.zeros((48, 48), np.uint8)
    crop[10:14, 30:34] = 255  # a bright mark around crop pixel (31.5, 11.5) (x, y)
    scene = np.zeros((300, 300, 3), np.uint8)
    placed = paste_face(scene, crop, (150.0, 140.0), 144.0, 30.0)
    x, y = placed.to_scene(np.array([[31.5, 11.5]]))[0]
    grey = scene.mean(axis=2)
    rows, cols = np.nonzero(grey > 0.5 * grey.max())
    assert np.mean(cols) == pytest.approx(x, abs=1.5) and np.mean(rows) == pytest.approx(y, abs=1.5)
    centre = placed.to_scene(np.array([[23.5, 23.5]]))[0] + 0.5
    np.testing.assert_allclose(centre, placed.center, atol=1e-9)
    assert np.hypot(*placed.matrix[:, 0]) == pytest.approx(3.0)


def test_random_scenes_follow_the_seed_and_keep_the_face_inside():
    crop = np.full((48, 48), 200, np.uint8)
    a, pa = random_scene(crop, np.random.default_rng(5))
    b, pb = random_scene(crop, np.random.default_rng(5))
    c, _ = random_scene(crop, np.random.default_rng(6))
    assert np.array_equal(a, b) and pa.center == pb.center and pa.angle == pb.angle
    assert a.shape != c.shape or not np.array_equal(a, c)
    corners = pa.to_scene(np.array([[0, 0], [47, 0], [0, 47], [47, 47]], float))
    assert corners.min() >= -1 and (corners[:, 0] <= a.shape[1]).all() and (corners[:, 1] <= a.shape[0]).all()
    assert abs(pa.angle) <= 20.0


def test_background_is_textured_colour():
    ground = textured_background(120, 160, np.random.default_rng(0))
    assert ground.shape == (120, 160, 3) and ground.dtype == np.uint8
    assert ground.std() > 10
