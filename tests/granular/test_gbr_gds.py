"""gds: nearest-pair merging keeps every pixel covered and respects max_nodes."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.granular.balls import grow_balls, seed_order
from fer_graph.granular.gds import _nearest, downsample
from fer_graph.granular.preprocess import blur_and_gradient
from gbr_helpers import coverage, face_like


def ball_boxes(size=64, seed=4):
    blurred, gradient = blur_and_gradient(face_like(size, seed=seed))
    # Xia et al. settings (p 0.9, tau 10, v_max 20): many small balls to merge.
    boxes, _ = grow_balls(blurred, seed_order(gradient, np.uint64(1)), 0.9, 10.0, 20.0,
                          1.005, 0.99, False)
    return boxes, blurred.shape


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    cr = rng.integers(0, 90, 300).astype(np.int64)
    cc = rng.integers(0, 70, 300).astype(np.int64)
    nearest, dist = _nearest(cr, cc, 90, 70)
    d = np.abs(cr[:, None] - cr[None, :]) + np.abs(cc[:, None] - cc[None, :])
    np.fill_diagonal(d, np.iinfo(np.int64).max)
    assert np.array_equal(dist, d.min(axis=1))
    assert np.array_equal(nearest, d.argmin(axis=1))  # argmin: lowest index among ties


@pytest.mark.parametrize("max_nodes", [1, 7, 60, 200])
def test_gds_respects_max_nodes_and_keeps_coverage(max_nodes):
    boxes, shape = ball_boxes()
    assert len(boxes) > 200
    merged, rounds = downsample(boxes, max_nodes)
    assert len(merged) == max_nodes and rounds >= 1
    assert coverage(merged, shape).min() >= 1
    # No node dropped: every original ball lies inside some merged box.
    outer, inner = merged[None, :, :], boxes[:, None, :]
    inside = np.all(outer[..., :2] <= inner[..., :2], axis=2) & np.all(
        outer[..., 2:] >= inner[..., 2:], axis=2)
    assert inside.any(axis=1).all()
    # Merged boxes are bounding boxes: each corner is attained by an original ball inside it.
    for box, members in zip(merged, inside.T):
        group = boxes[members]
        assert group[:, 0].min() == box[0] and group[:, 1].min() == box[1]
        assert group[:, 2].max() == box[2] and group[:, 3].max() == box[3]


def test_gds_merges_the_closest_pair_first_along_the_right_axes():
    # Centres (doubled): A(0,0) B(0,4) C(20,0): A-B is nearest (distance 2 along columns).
    boxes = np.array([[0, 0, 0, 0], [0, 2, 0, 2], [10, 0, 10, 0]], np.int32)
    merged, _ = downsample(boxes, 2)
    assert merged.tolist() == [[0, 0, 0, 2], [10, 0, 10, 0]]
    # Same layout transposed: the rows/cols convention must follow.
    merged_t, _ = downsample(boxes[:, [1, 0, 3, 2]], 2)
    assert merged_t.tolist() == [[0, 0, 2, 0], [0, 10, 0, 10]]


def test_gds_is_a_no_op_below_the_limit():
    boxes, _ = ball_boxes(24)
    merged, rounds = downsample(boxes, len(boxes))
    assert rounds == 0 and np.array_equal(merged, boxes)
