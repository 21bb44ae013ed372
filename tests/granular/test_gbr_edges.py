"""edges: grid-bucketed edges equal a brute-force pair check under both rules."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.granular.balls import grow_balls, seed_order
from fer_graph.granular.edges import box_edges
from fer_graph.granular.preprocess import blur_and_gradient
from gbr_helpers import brute_force_edges, face_like


def edges_of(boxes, shape, rule):
    return box_edges(np.asarray(boxes, np.int32), shape[0], shape[1], rule == "touch")


@pytest.mark.parametrize("rule", ["touch", "overlap"])
def test_side_corner_and_overlap_contacts(rule):
    boxes = [
        [0, 0, 3, 3],   # 0
        [0, 4, 3, 6],   # 1: shares a side with 0
        [4, 7, 5, 9],   # 2: meets 1 only at a corner (diagonal)
        [2, 2, 6, 4],   # 3: overlaps 0 and 1
        [7, 0, 9, 9],   # 4: the row right below 3 (touch), none for overlap
    ]
    expected = {"touch": [[0, 1], [0, 3], [1, 3], [3, 4]],
                "overlap": [[0, 3], [1, 3]]}[rule]
    assert edges_of(boxes, (10, 10), rule).tolist() == expected
    assert np.array_equal(edges_of(boxes, (10, 10), rule), brute_force_edges(np.array(boxes), rule))


@pytest.mark.parametrize("rule", ["touch", "overlap"])
def test_random_boxes_match_brute_force(rule):
    rng = np.random.default_rng(5)
    for trial in range(5):
        size = int(rng.integers(5, 60))
        count = int(rng.integers(1, 150))
        r = np.sort(rng.integers(0, size, (count, 2)), axis=1)
        c = np.sort(rng.integers(0, size, (count, 2)), axis=1)
        boxes = np.stack([r[:, 0], c[:, 0], r[:, 1], c[:, 1]], axis=1).astype(np.int32)
        got = edges_of(boxes, (size, size), rule)
        assert got.dtype == np.int32
        assert np.array_equal(got, brute_force_edges(boxes, rule)), trial


@pytest.mark.parametrize("rule", ["touch", "overlap"])
def test_ball_boxes_of_real_ish_image_match_brute_force(rule):
    blurred, gradient = blur_and_gradient(face_like(40, seed=2))
    boxes, _ = grow_balls(blurred, seed_order(gradient, np.uint64(3)), 0.7, 30.0, 50.0,
                          1.005, 0.99, False)
    got = edges_of(boxes, blurred.shape, rule)
    assert np.array_equal(got, brute_force_edges(boxes, rule))
    assert np.all(got[:, 0] < got[:, 1])


def test_fewer_than_two_boxes_have_no_edges():
    assert edges_of(np.zeros((0, 4)), (5, 5), "touch").shape == (0, 2)
    assert edges_of([[0, 0, 4, 4]], (5, 5), "touch").shape == (0, 2)


def test_two_flat_halves_give_one_touch_edge_and_no_overlap_edge():
    image = np.zeros((10, 12), np.uint8)
    image[:, 6:] = 200
    # Border columns seed first, so each half is exactly one ball (see test_gbr_balls).
    gradient = np.tile(np.minimum(np.arange(12), np.arange(12)[::-1]), (10, 1)).astype(np.int16)
    boxes, _ = grow_balls(image, seed_order(gradient, np.uint64(0)), 0.7, 30.0, 50.0,
                          1.005, 0.99, False)
    assert len(boxes) == 2
    assert edges_of(boxes, image.shape, "touch").tolist() == [[0, 1]]
    assert edges_of(boxes, image.shape, "overlap").shape == (0, 2)
