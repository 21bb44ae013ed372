"""RFN and CHN: weights sum to one, F_u is the weighted sum, temperatures and the learned query."""

from __future__ import annotations

import math

import pytest
import torch

from fer_graph.models.rfn import CHN, RFN


def test_rfn_weights_and_fused_feature_match_explicit_formula() -> None:
    torch.manual_seed(0)
    visual, spatial = torch.rand(5, 9, 16), torch.rand(5, 9, 16)
    rfn = RFN(component_dim=16, num_components=9)
    fused, weights = rfn(visual, spatial)
    assert fused.shape == (5, 16) and weights.shape == (5, 9)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(5))
    for b in range(5):
        scores = [float(visual[b, k] @ spatial[b, k]) / math.sqrt(16) for k in range(9)]
        total = sum(math.exp(s) for s in scores)
        want_w = torch.tensor([math.exp(s) / total for s in scores])
        torch.testing.assert_close(weights[b], want_w)
        want_f = sum(want_w[k] * visual[b, k] for k in range(9))
        torch.testing.assert_close(fused[b], want_f)


def test_temperature_one_is_the_papers_unscaled_softmax() -> None:
    visual, spatial = torch.rand(2, 4, 8), torch.rand(2, 4, 8)
    _, weights = RFN(component_dim=8, num_components=4, temperature=1.0)(visual, spatial)
    torch.testing.assert_close(weights, torch.softmax(torch.einsum("bks,bks->bk", visual, spatial), dim=1))
    with pytest.raises(ValueError, match="rfn_temperature"):
        RFN(component_dim=8, num_components=4, temperature=0.0)


def test_learned_query_starts_uniform_and_is_trainable() -> None:
    rfn = RFN(component_dim=8, num_components=4, learned_query=True)
    visual = torch.rand(3, 4, 8)
    fused, weights = rfn(visual)
    torch.testing.assert_close(weights, torch.full((3, 4), 0.25))
    torch.testing.assert_close(fused, visual.mean(dim=1))
    (weights[:, 0].sum() + fused.sum()).backward()
    assert rfn.query.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="C\\^s"):
        RFN(component_dim=8, num_components=4)(visual)


def test_chn_classifies_fused_and_component_features_with_one_head() -> None:
    chn = CHN(in_features=8, num_classes=7)
    components = torch.rand(3, 4, 8)
    per_component = chn(components)
    assert per_component.shape == (3, 4, 7)
    torch.testing.assert_close(per_component[:, 2], components[:, 2] @ chn.fc.weight.T + chn.fc.bias)
