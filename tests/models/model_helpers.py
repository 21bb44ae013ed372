"""Shared values for the model tests: the tiny model config and a dense GCN reference.

A plain module, not conftest: `from conftest import` resolves to whichever conftest pytest
imported first, which breaks when test folders are collected together.
"""

from __future__ import annotations

import torch

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
