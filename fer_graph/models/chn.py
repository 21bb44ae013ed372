"""CHN: the classify head network (one linear layer, also scoring each C_k^v for ACCs)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CHN(nn.Module):
    """CHN: the classify head network, one linear layer (also scoring each C_k^v for ACCs).

    With norm=True a BatchNorm1d comes before the linear layer (a "BN neck", not in the
    paper). Components are sigmoid outputs that start near 0.5 with a small spread, so a bare
    linear head sees nearly constant inputs and passes little gradient back to the backbone;
    the norm rescales them. At evaluation the norm uses running statistics, so the head stays
    one affine map and CHN(F_u) = sum_k W_k CHN(C_k^v) still holds.
    """

    def __init__(
        self, *, in_features: int, num_classes: int, drop_rate: float = 0.0, norm: bool = False
    ) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features) if norm else None
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, in_features) -> (B, num_classes); in training the norm uses and updates batch statistics."""
        if self.norm is not None:
            features = self.norm(features)
        return self.fc(self.dropout(features))

    def score_components(self, components: torch.Tensor) -> torch.Tensor:
        """(B, K, in_features) -> (B, K, num_classes) through the norm's running statistics.

        Components only feed ACCs, so they never update the statistics; scoring them with the
        running ones applies the map that scores F_u at evaluation.
        """
        if self.norm is not None:
            norm = self.norm
            flat = F.batch_norm(
                components.flatten(0, -2), norm.running_mean, norm.running_var,
                norm.weight, norm.bias, training=False, eps=norm.eps,
            )
            components = flat.view_as(components)
        return self.fc(self.dropout(components))
