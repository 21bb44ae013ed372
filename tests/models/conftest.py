"""Small random ball graphs for the model tests (shared values live in model_helpers)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pytest

from fer_graph.data.graph_batch import GraphBatch, collate_graphs
from fer_graph.granular.graph import NUM_FEATURES, BallGraph

def random_ball_graph(num_nodes: int, rng: np.random.Generator, size: int = 48) -> BallGraph:
    """A graph of num_nodes with each node joined to its 3 nearest nodes, raw-scale features."""
    centre = rng.uniform(0, size, (num_nodes, 2))
    half = rng.uniform(0.5, 3.0, (num_nodes, 2))
    boxes = np.concatenate([centre - half, centre + half], axis=1).clip(0, size - 1).astype(np.int32)
    stats = np.stack([
        rng.uniform(0, 2500, num_nodes), rng.uniform(0, 255, num_nodes), rng.normal(0, 1, num_nodes),
        rng.uniform(0, 255, num_nodes), rng.uniform(0, 255, num_nodes), rng.uniform(0, 8, num_nodes),
    ], axis=1)
    features = np.concatenate([centre, half, stats, centre / size], axis=1).astype(np.float32)
    assert features.shape[1] == NUM_FEATURES
    if num_nodes == 1:
        edges = np.zeros((0, 2), dtype=np.int32)
    else:
        dist = np.linalg.norm(centre[:, None] - centre[None], axis=-1)
        np.fill_diagonal(dist, np.inf)
        k = min(3, num_nodes - 1)
        near = np.argsort(dist, axis=1)[:, :k]
        pairs = np.sort(np.stack([np.repeat(np.arange(num_nodes), k), near.ravel()], axis=1), axis=1)
        edges = np.unique(pairs, axis=0).astype(np.int32)
    return BallGraph(boxes=boxes, features=features, edges=edges, image_shape=(size, size))


@pytest.fixture
def make_graphs() -> Callable[..., GraphBatch]:
    """Factory: make_graphs([n1, n2, ...], seed=0) -> a collated GraphBatch."""

    def make(sizes: Sequence[int], seed: int = 0) -> GraphBatch:
        rng = np.random.default_rng(seed)
        return collate_graphs([random_ball_graph(n, rng) for n in sizes])

    return make
