"""features: each rectangle's features against a direct numpy/scipy computation."""

from __future__ import annotations

import numpy as np
from scipy import stats

from fer_graph.granular.features import box_features
from fer_graph.granular.graph import FEATURE_NAMES, NUM_FEATURES
from gbr_helpers import face_like


def expected_features(image: np.ndarray, box) -> dict[str, float]:
    r0, c0, r1, c1 = (int(v) for v in box)
    values = image[r0:r1 + 1, c0:c1 + 1].astype(np.float64).ravel()
    _, counts = np.unique(values, return_counts=True)
    share = counts / values.size
    skew = 0.0 if values.var() == 0 else float(stats.skew(values, bias=True))
    height, width = image.shape
    return {
        "row": (r0 + r1) / 2, "col": (c0 + c1) / 2,
        "half_width": (c1 - c0) / 2, "half_height": (r1 - r0) / 2,
        "variance": values.var(), "mean": values.mean(), "skewness": skew,
        "max": values.max(), "min": values.min(), "entropy": -np.sum(share * np.log2(share)),
        "row_norm": (r0 + r1) / 2 / (height - 1), "col_norm": (c0 + c1) / 2 / (width - 1),
    }


def test_features_match_direct_computation():
    image = face_like(30, seed=11)[:, :26].copy()
    rng = np.random.default_rng(0)
    r = np.sort(rng.integers(0, 30, (40, 2)), axis=1)
    c = np.sort(rng.integers(0, 26, (40, 2)), axis=1)
    boxes = np.stack([r[:, 0], c[:, 0], r[:, 1], c[:, 1]], axis=1).astype(np.int32)
    boxes = np.concatenate([boxes, [[0, 0, 29, 25], [4, 7, 4, 7]]]).astype(np.int32)
    features = box_features(image, boxes)
    assert features.shape == (len(boxes), NUM_FEATURES) and features.dtype == np.float32
    for row, box in zip(features, boxes):
        expected = expected_features(image, box)
        for k, name in enumerate(FEATURE_NAMES):
            np.testing.assert_allclose(row[k], expected[name], rtol=1e-5, atol=1e-4, err_msg=name)


def test_constant_region_has_zero_skewness_and_entropy():
    image = np.full((6, 6), 9, np.uint8)
    features = box_features(image, np.array([[1, 1, 4, 4], [0, 0, 0, 0], [0, 0, 2, 2]], np.int32))
    assert np.isfinite(features).all()
    names = list(FEATURE_NAMES)
    assert np.all(features[:, names.index("skewness")] == 0)
    assert np.all(features[:, names.index("entropy")] == 0)
    assert np.all(features[:, names.index("variance")] == 0)


def test_two_level_region_has_one_bit_of_entropy():
    image = np.zeros((2, 4), np.uint8)
    image[:, 2:] = 255
    features = box_features(image, np.array([[0, 0, 1, 3]], np.int32))
    names = list(FEATURE_NAMES)
    assert features[0, names.index("entropy")] == 1.0
    assert features[0, names.index("variance")] == 127.5**2
