"""Graph reliance: how much a trained model's predictions depend on each image's own graph.

A graph stream that helps must be one the model uses. Two measures on a split:

- graph shuffle: every image is paired with another image's graph by a fixed derangement of
  the split (one cycle through a seeded order, so it is the same for every run and model);
  the share of changed predictions and the accuracy with those graphs;
- the spread of the fusion weights W across faces: per component, the standard deviation of
  W_k over the split (a W that hardly moves is a fixed mixture of the visual components).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DERANGEMENT_SEED = 20250815


def fixed_derangement(n: int, seed: int = DERANGEMENT_SEED) -> np.ndarray:
    """A permutation p of range(n) with p[i] != i for every i (n >= 2).

    The n positions are visited in a seeded random order and each is mapped to the next one in
    that cycle, so no position keeps its own index.
    """
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 items, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    perm = np.empty(n, dtype=np.int64)
    perm[order] = np.roll(order, -1)
    return perm


def shuffled_graph_ids(ids: Sequence[str], seed: int = DERANGEMENT_SEED) -> list[str]:
    """For each id (in order), the id whose graph it is given by the fixed derangement."""
    ids = list(ids)
    return [ids[j] for j in fixed_derangement(len(ids), seed)]


def weight_spread(weights: np.ndarray) -> dict:
    """Mean and standard deviation of each W_k over the faces of a split (W is (N, K)).

    Returns:
        ``weight_mean`` and ``weight_std_per_component`` (lists of K floats) and
        ``weight_std``, the mean of the per-component standard deviations.
    """
    weights = np.asarray(weights, dtype=np.float64)
    std = weights.std(axis=0)
    return {
        "weight_mean": weights.mean(axis=0).tolist(),
        "weight_std_per_component": std.tolist(),
        "weight_std": float(std.mean()),
    }


def shuffle_metrics(labels: np.ndarray, predicted: np.ndarray, shuffled_predicted: np.ndarray) -> dict:
    """Share of predictions changed by the graph shuffle and accuracy with shuffled graphs."""
    labels, predicted, shuffled = (np.asarray(a) for a in (labels, predicted, shuffled_predicted))
    if not labels.shape == predicted.shape == shuffled.shape:
        raise ValueError(f"shapes differ: {labels.shape}, {predicted.shape}, {shuffled.shape}")
    return {
        "graph_shuffle_changed": float((predicted != shuffled).mean()),
        "graph_shuffle_accuracy": float((shuffled == labels).mean()),
    }
