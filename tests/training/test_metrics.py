"""Metrics against a hand-worked example and against a brute-force per-sample count."""

from __future__ import annotations

import numpy as np
import pytest

from fer_graph.training.metrics import classification_metrics, confusion_matrix, summarize


def test_hand_worked_three_class_example() -> None:
    # true:      0 0 0 1 1 2 2 2 2
    # predicted: 0 0 1 1 2 2 2 2 0
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    predicted = [0, 0, 1, 1, 2, 2, 2, 2, 0]
    m = classification_metrics(labels, predicted, ["a", "b", "c"])
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert m["accuracy"] == pytest.approx(6 / 9)
    # recall a=2/3 b=1/2 c=3/4; precision a=2/3 b=1/2 c=3/4 -> f1 equals recall per class
    assert m["uar"] == pytest.approx((2 / 3 + 1 / 2 + 3 / 4) / 3)
    assert m["uf1"] == pytest.approx((2 / 3 + 1 / 2 + 3 / 4) / 3)
    assert [c["support"] for c in m["per_class"]] == [3, 2, 4]


def test_against_per_sample_loops() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 400)
    predicted = np.where(rng.random(400) < 0.6, labels, rng.integers(0, 5, 400))
    m = classification_metrics(labels, predicted, list("abcde"))
    f1s, recalls = [], []
    for c in range(5):
        tp = sum(1 for t, p in zip(labels, predicted) if t == c and p == c)
        fp = sum(1 for t, p in zip(labels, predicted) if t != c and p == c)
        fn = sum(1 for t, p in zip(labels, predicted) if t == c and p != c)
        prec, rec = tp / (tp + fp), tp / (tp + fn)
        recalls.append(rec)
        f1s.append(2 * prec * rec / (prec + rec))
        assert m["confusion_matrix"][c][c] == tp
    assert m["accuracy"] == pytest.approx(float(np.mean(labels == predicted)))
    assert m["uar"] == pytest.approx(np.mean(recalls))
    assert m["uf1"] == pytest.approx(np.mean(f1s))


def test_absent_class_is_left_out_of_macro_averages() -> None:
    m = classification_metrics([0, 0, 1], [0, 1, 1], ["a", "b", "never"])
    assert m["uar"] == pytest.approx((1 / 2 + 1) / 2)
    assert confusion_matrix([0, 0, 1], [0, 1, 1], 3).sum() == 3


def test_summarize_mean_and_sample_std() -> None:
    s = summarize([0.5, 0.7, 0.6])
    assert s["mean"] == pytest.approx(0.6)
    assert s["std"] == pytest.approx(0.1)
    assert summarize([0.4])["std"] == 0.0
