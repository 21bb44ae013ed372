"""ModelOutput: everything one forward pass hands to the loss and to visualisations."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ModelOutput:
    """Outputs of a forward pass (None where the model variant has no such part).

    Attributes:
        logits: (B, num_classes) CHN(F_u), or the VREN-only baseline's logits.
        weights: W (B, K), rows summing to one.
        visual_components: C^v (B, K, D_s).
        spatial_components: C^s (B, K, D_s); None without SRSN.
        component_logits: CHN(C_k^v) (B, K, num_classes), for the per-component ACCs.
        feature_map: the last VREN stage map (B, C, h, w), NCHW and attached to the
            autograd graph, for class activation maps of the components.
    """

    logits: torch.Tensor
    weights: torch.Tensor | None = None
    visual_components: torch.Tensor | None = None
    spatial_components: torch.Tensor | None = None
    component_logits: torch.Tensor | None = None
    feature_map: torch.Tensor | None = None


def view_probabilities(logits: torch.Tensor, views: int = 1) -> torch.Tensor:
    """Class probabilities averaged over test-time views stacked view-major: (V*B, C) -> (B, C)."""
    if views < 1 or logits.shape[0] % views:
        raise ValueError(f"{logits.shape[0]} rows do not split into {views} views")
    probs = torch.softmax(logits.float(), dim=1)
    return probs.reshape(views, -1, probs.shape[1]).mean(dim=0)
