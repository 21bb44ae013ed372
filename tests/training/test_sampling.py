"""Class-balanced sampling and class-weighted loss: draws and weights against direct counts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from rich.console import Console

from fer_graph.errors import ConfigError
from fer_graph.training.prepare import prepare_data
from fer_graph.training.loaders import make_loader
from fer_graph.training.sampling import (
    balanced_class_weights,
    class_balanced_sampler,
    loss_class_weights,
    train_sampler,
)

QUIET = Console(quiet=True)


def test_balanced_sampler_draws_every_class_equally_often() -> None:
    labels = [0] * 900 + [1] * 90 + [2] * 10
    torch.manual_seed(0)
    sampler = class_balanced_sampler(labels, num_classes=4)  # class 3 absent: never drawn
    draws = Counter(labels[i] for _ in range(6) for i in sampler)
    assert len(sampler) == len(labels) and sum(draws.values()) == 6 * len(labels)
    assert set(draws) == {0, 1, 2}
    for cls in (0, 1, 2):
        assert abs(draws[cls] / 6000 - 1 / 3) < 0.03, draws


def test_balanced_sampler_follows_the_global_generator_for_resumes() -> None:
    labels = [0] * 50 + [1] * 5
    torch.manual_seed(7)
    first = list(class_balanced_sampler(labels, 2))
    torch.manual_seed(7)
    assert list(class_balanced_sampler(labels, 2)) == first


def test_balanced_class_weights_give_each_present_class_equal_total_weight() -> None:
    labels = [0] * 6 + [1] * 3 + [2]
    weights = balanced_class_weights(labels, num_classes=4)
    counts = np.bincount(labels, minlength=4)
    totals = weights.numpy() * counts
    np.testing.assert_allclose(totals[:3], [10 / 3] * 3, rtol=1e-6)  # N / classes present
    assert weights[3] == 0.0
    assert float((weights[torch.tensor(labels)]).mean()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="^loss.class_weights: the training split is empty"):
        balanced_class_weights([], 3)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        balanced_class_weights([0, 3], 3)


def test_config_switches_choose_sampler_and_weights(tiny_config) -> None:
    labels = [0, 0, 1]
    assert train_sampler(tiny_config(), labels) is None and loss_class_weights(tiny_config(), labels) is None
    config = tiny_config("train.sampler=class_balanced", "loss.class_weights=balanced")
    assert len(train_sampler(config, labels)) == 3
    torch.testing.assert_close(loss_class_weights(config, labels), balanced_class_weights(labels, 7))


def test_training_loader_with_class_balanced_sampler_evens_out_an_imbalanced_split(tiny_config) -> None:
    config = tiny_config("train.sampler=class_balanced", "train.batch_size=16")
    index, store, folds = prepare_data(config, QUIET)
    label_of = {s.id: s.label for s in index.samples}
    by_class: dict[int, list[str]] = {}
    for sample_id in folds[0].train_ids:
        by_class.setdefault(label_of[sample_id], []).append(sample_id)
    ids = by_class[0] + by_class[1][:4]  # about 7:1
    torch.manual_seed(0)
    loader = make_loader(config, index, store, ids, train=True, seed=0)
    drawn = Counter(int(label) for _ in range(8) for batch in loader for label in batch[2])
    assert set(drawn) == {0, 1}
    assert abs(drawn[1] / sum(drawn.values()) - 0.5) < 0.08, drawn
    eval_loader = make_loader(config, index, store, ids, train=False, seed=0)
    assert [int(x) for batch in eval_loader for x in batch[2]] == [label_of[i] for i in ids]
