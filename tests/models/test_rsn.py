"""RSN: every component head has its own weights and the layer form of Eq. 5."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from fer_graph.models.rsn import SRSN, VRSN


def test_vrsn_heads_equal_separate_fc_gelu_fc_sigmoid() -> None:
    torch.manual_seed(0)
    vrsn = VRSN(embed_dim=10, hidden=6, component_dim=5, num_components=3)
    x = torch.randn(4, 10)
    out = vrsn(x)
    assert out.shape == (4, 3, 5) and out.dtype == torch.float32
    for k in range(3):
        hidden = F.gelu(F.linear(x, vrsn.weight1[:, k].T, vrsn.bias1[k]))
        want = torch.sigmoid(F.linear(hidden, vrsn.weight2[k].T, vrsn.bias2[k]))
        torch.testing.assert_close(out[:, k], want)
    assert not torch.allclose(out[:, 0], out[:, 1])


def test_srsn_heads_equal_separate_fc_sigmoid() -> None:
    torch.manual_seed(0)
    srsn = SRSN(embed_dim=10, component_dim=5, num_components=3)
    x = torch.randn(1, 10)
    out = srsn(x)
    assert out.shape == (1, 3, 5)
    for k in range(3):
        torch.testing.assert_close(out[:, k], torch.sigmoid(x @ srsn.weight[:, k] + srsn.bias[k]))


def test_gradient_of_one_head_leaves_other_heads_untouched() -> None:
    srsn = SRSN(embed_dim=6, component_dim=4, num_components=3)
    srsn(torch.randn(2, 6))[:, 1].sum().backward()
    assert srsn.weight.grad[:, 1].abs().sum() > 0
    assert srsn.weight.grad[:, 0].abs().sum() == 0 and srsn.weight.grad[:, 2].abs().sum() == 0
