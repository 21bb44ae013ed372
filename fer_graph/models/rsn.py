"""RSN: per-component separation heads VRSN and SRSN (paper Eq. 5)."""

from __future__ import annotations

import math

import torch
from torch import nn


def _linear_init(weight: torch.Tensor, bias: torch.Tensor, fan_in: int) -> None:
    """nn.Linear's default init, applied to every head's slice."""
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(weight, -bound, bound)
    nn.init.uniform_(bias, -bound, bound)


class VRSN(nn.Module):
    """VRSN: K heads FC-GELU-FC-sigmoid splitting F_b^v into components C_k^v (Eq. 5)."""

    def __init__(self, *, embed_dim: int, hidden: int, component_dim: int, num_components: int) -> None:
        """Per-head weights stored stacked, weight1[k] (D_e, hidden) and weight2[k] (hidden, D_s)."""
        super().__init__()
        self.weight1 = nn.Parameter(torch.empty(num_components, embed_dim, hidden))
        self.bias1 = nn.Parameter(torch.empty(num_components, hidden))
        self.weight2 = nn.Parameter(torch.empty(num_components, hidden, component_dim))
        self.bias2 = nn.Parameter(torch.empty(num_components, component_dim))
        _linear_init(self.weight1, self.bias1, embed_dim)
        _linear_init(self.weight2, self.bias2, hidden)
        self.activation = nn.GELU()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D_e) -> C^v (B, K, D_s)."""
        hidden = torch.einsum("bd,kdh->bkh", features, self.weight1) + self.bias1
        out = torch.einsum("bkh,khs->bks", self.activation(hidden), self.weight2) + self.bias2
        return torch.sigmoid(out)


class SRSN(nn.Module):
    """SRSN: K heads FC-sigmoid splitting F_b^s into components C_k^s (Eq. 5)."""

    def __init__(self, *, embed_dim: int, component_dim: int, num_components: int) -> None:
        """Per-head weights stored stacked, weight[k] (D_e, D_s)."""
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_components, embed_dim, component_dim))
        self.bias = nn.Parameter(torch.empty(num_components, component_dim))
        _linear_init(self.weight, self.bias, embed_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D_e) -> C^s (B, K, D_s)."""
        return torch.sigmoid(torch.einsum("bd,kds->bks", features, self.weight) + self.bias)
