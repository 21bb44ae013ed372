"""RFN and CHN: weights sum to one, F_u is the weighted sum, temperatures, the learned query, the BN neck."""

from __future__ import annotations

import math

import pytest
import torch

from fer_graph.models.chn import CHN
from fer_graph.models.rfn import RFN


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
    per_component = chn.score_components(components)
    assert per_component.shape == (3, 4, 7)
    torch.testing.assert_close(per_component[:, 2], components[:, 2] @ chn.fc.weight.T + chn.fc.bias)


def _dense_batch_norm(
    x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, bn: torch.nn.BatchNorm1d
) -> torch.Tensor:
    return (x - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias


def test_chn_norm_trains_on_batch_statistics_and_scores_components_with_running_ones() -> None:
    torch.manual_seed(0)
    chn = CHN(in_features=4, num_classes=3, norm=True)
    with torch.no_grad():
        chn.norm.weight.uniform_(0.5, 2.0)
        chn.norm.bias.uniform_(-1.0, 1.0)
    fused = torch.rand(6, 4)
    components = torch.rand(6, 2, 4)
    chn.train()
    logits = chn(fused)
    batch_mean, batch_var = fused.mean(dim=0), fused.var(dim=0, unbiased=False)
    expected = _dense_batch_norm(fused, batch_mean, batch_var, chn.norm) @ chn.fc.weight.T + chn.fc.bias
    torch.testing.assert_close(logits, expected)
    running_mean = 0.9 * torch.zeros(4) + 0.1 * batch_mean
    running_var = 0.9 * torch.ones(4) + 0.1 * fused.var(dim=0, unbiased=True)
    torch.testing.assert_close(chn.norm.running_mean, running_mean)
    torch.testing.assert_close(chn.norm.running_var, running_var)

    scored = chn.score_components(components)
    torch.testing.assert_close(chn.norm.running_mean, running_mean)  # components leave the statistics alone
    dense = _dense_batch_norm(components, running_mean, running_var, chn.norm) @ chn.fc.weight.T + chn.fc.bias
    torch.testing.assert_close(scored, dense)


def test_chn_norm_is_affine_in_eval_so_the_fused_logit_is_the_weighted_component_logits() -> None:
    torch.manual_seed(1)
    chn = CHN(in_features=4, num_classes=3, norm=True)
    chn.train()
    chn(torch.rand(8, 4) * 3.0)  # moves the running statistics away from (0, 1)
    chn.eval()
    components = torch.rand(5, 3, 4)
    weights = torch.softmax(torch.randn(5, 3), dim=1)
    fused = torch.einsum("bk,bks->bs", weights, components)
    per_component = chn.score_components(components)
    torch.testing.assert_close(chn(fused), torch.einsum("bk,bkc->bc", weights, per_component))
