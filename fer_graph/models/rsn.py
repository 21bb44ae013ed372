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
        """Per-head weights: head k's first FC is weight1[:, k] (D_e, hidden), its second
        weight2[k] (hidden, D_s). The first layout lets all heads share one GEMM."""
        super().__init__()
        self.weight1 = nn.Parameter(torch.empty(embed_dim, num_components, hidden))
        self.bias1 = nn.Parameter(torch.empty(num_components, hidden))
        self.weight2 = nn.Parameter(torch.empty(num_components, hidden, component_dim))
        self.bias2 = nn.Parameter(torch.empty(num_components, component_dim))
        _linear_init(self.weight1, self.bias1, embed_dim)
        _linear_init(self.weight2, self.bias2, hidden)
        self.activation = nn.GELU()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D_e) -> C^v (B, K, D_s)."""
        embed_dim, heads, hidden = self.weight1.shape
        first = (features @ self.weight1.reshape(embed_dim, heads * hidden)).view(-1, heads, hidden)
        first = self.activation(first + self.bias1)
        second = torch.bmm(first.transpose(0, 1), self.weight2).transpose(0, 1)
        return torch.sigmoid(second + self.bias2)


class SRSN(nn.Module):
    """SRSN: K heads FC-sigmoid splitting F_b^s into components C_k^s (Eq. 5)."""

    def __init__(self, *, embed_dim: int, component_dim: int, num_components: int) -> None:
        """Per-head weights: head k's FC is weight[:, k] (D_e, D_s), all heads in one GEMM."""
        super().__init__()
        self.weight = nn.Parameter(torch.empty(embed_dim, num_components, component_dim))
        self.bias = nn.Parameter(torch.empty(num_components, component_dim))
        _linear_init(self.weight, self.bias, embed_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D_e) -> C^s (B, K, D_s)."""
        embed_dim, heads, width = self.weight.shape
        out = (features @ self.weight.reshape(embed_dim, heads * width)).view(-1, heads, width)
        return torch.sigmoid(out + self.bias)
