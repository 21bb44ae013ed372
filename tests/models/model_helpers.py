"""Shared values for the model tests: the tiny model config and a dense GCN reference.

A plain module, not conftest: `from conftest import` resolves to whichever conftest pytest
imported first, which breaks when test folders are collected together.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.granular.graph import NUM_FEATURES, BallGraph
from fer_graph.models.sren import dgl_available

NEEDS_DGL = pytest.mark.skipif(not dgl_available(), reason="DGL is not installed (the torch backend is tested)")

# timm's test_resnet (0.4M parameters, resnet stages) keeps the model tests to seconds
TINY = {"backbone": "test_resnet", "img_size": 48, "embed_dim": 64, "component_dim": 16,
        "num_components": 4, "sren_hidden": 16, "sren_layers": 2}


def dense_gcn(
    x: torch.Tensor, edge_index: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """D^-1/2 (A+I) D^-1/2 X W + b with a dense adjacency (A[dst, src] = 1)."""
    n = x.shape[0]
    adj = torch.zeros(n, n, dtype=x.dtype)
    adj[edge_index[1], edge_index[0]] = 1.0
    adj = adj + torch.eye(n, dtype=x.dtype)
    inv_sqrt = adj.sum(dim=1).pow(-0.5)
    return inv_sqrt[:, None] * adj * inv_sqrt[None, :] @ x @ weight + bias


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
