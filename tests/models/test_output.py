"""view_probabilities: test-time views averaged in probability space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.models.output import view_probabilities


def test_two_views_average_their_softmax() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])
    exp = np.exp(logits.numpy())
    softmax = exp / exp.sum(axis=1, keepdims=True)
    want = (softmax[:2] + softmax[2:]) / 2  # rows 0, 1 are view 0 of samples 0, 1; rows 2, 3 view 1
    got = view_probabilities(logits, views=2)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(got.sum(dim=1).numpy(), 1.0, rtol=1e-6)


def test_one_view_is_the_softmax_of_bf16_logits_in_float() -> None:
    logits = torch.randn(5, 7).to(torch.bfloat16)
    got = view_probabilities(logits)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, torch.softmax(logits.float(), dim=1))


def test_rows_that_do_not_split_into_views_are_refused() -> None:
    with pytest.raises(ValueError, match="5 rows do not split into 2 views"):
        view_probabilities(torch.zeros(5, 3), views=2)
