"""Small random ball graphs for the model tests (shared values live in model_helpers)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pytest

from fer_graph.data.graph_batch import GraphBatch, collate_graphs

from model_helpers import random_ball_graph

@pytest.fixture
def make_graphs() -> Callable[..., GraphBatch]:
    """Factory: make_graphs([n1, n2, ...], seed=0) -> a collated GraphBatch."""

    def make(sizes: Sequence[int], seed: int = 0) -> GraphBatch:
        rng = np.random.default_rng(seed)
        return collate_graphs([random_ball_graph(n, rng) for n in sizes])

    return make
