"""RFN: spatially guided component fusion (Eqs. 6-7)."""

from __future__ import annotations

import math

import torch
from torch import nn


class RFN(nn.Module):
    """RFN: W = softmax_k(<C_k^v, C_k^s> / T), F_u = sum_k W_k C_k^v (Eqs. 6-7)."""

    def __init__(
        self,
        *,
        component_dim: int,
        num_components: int,
        temperature: float | None = None,
        learned_query: bool = False,
    ) -> None:
        """Sets the softmax temperature and, for the no-SRSN ablation, the learned query.

        Args:
            component_dim: D_s.
            num_components: K.
            temperature: T; None means sqrt(D_s). Components are sigmoid outputs, so
                <C_k^v, C_k^s> is ~D_s/4 = 32 with spreads of several units across k, and the
                unscaled softmax is nearly one-hot from the first step (one component gets
                all weight and gradient). 1/sqrt(D_s), as in dot-product attention, keeps W
                soft; temperature=1.0 is the paper's literal Eq. 6.
            learned_query: without SRSN there is no C^s; a learned per-component query q_k
                (zero-initialised, so W starts uniform) takes its place, W =
                softmax_k(<C_k^v, q_k> / T). This keeps Eq. 6's form and per-sample weights,
                so the ablation removes only the spatial input of the fusion.
        """
        super().__init__()
        self.temperature = math.sqrt(component_dim) if temperature is None else float(temperature)
        if self.temperature <= 0:
            raise ValueError(f"rfn_temperature must be > 0, got {temperature}")
        self.query = nn.Parameter(torch.zeros(num_components, component_dim)) if learned_query else None

    def forward(
        self, visual: torch.Tensor, spatial: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuses components.

        Args:
            visual: C^v (B, K, D_s).
            spatial: C^s (B, K, D_s); None uses the learned query.

        Returns:
            F_u (B, D_s) and W (B, K), each row of W summing to one.
        """
        if spatial is None:
            if self.query is None:
                raise ValueError("RFN without learned_query needs the spatial components C^s")
            spatial = self.query
        scores = (visual * spatial).sum(dim=-1) / self.temperature
        weights = torch.softmax(scores, dim=-1)
        fused = torch.einsum("bk,bks->bs", weights, visual)
        return fused, weights
