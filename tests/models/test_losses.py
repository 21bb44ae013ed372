"""L_BA against a direct KL computation, and the joint loss."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from fer_graph.models import CSGBSBFLoss, ModelOutput, bootstrap_alignment_loss


def _example():
    torch.manual_seed(0)
    weights = torch.softmax(torch.randn(6, 4), dim=1).requires_grad_(True)
    component_logits = torch.randn(6, 4, 3)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    # component 3 is always wrong: its accuracy is exactly zero
    component_logits[:, 3] = -10.0
    component_logits[torch.arange(6), 3, (targets + 1) % 3] = 10.0
    return weights, component_logits, targets


def test_lba_equals_direct_kl_of_smoothed_accuracies_and_mean_weights() -> None:
    weights, component_logits, targets = _example()
    eps = 1e-3
    got = bootstrap_alignment_loss(weights, component_logits, targets, eps=eps)
    acc = []
    for k in range(4):
        predicted = [max(range(3), key=lambda c: component_logits[b, k, c].item()) for b in range(6)]
        hits = sum(int(predicted[b] == targets[b]) for b in range(6))
        acc.append(hits / 6 + eps)
    assert acc[3] == eps
    p = [a / sum(acc) for a in acc]
    q = [sum(weights[b, k].item() for b in range(6)) / 6 for k in range(4)]
    want = sum(pk * math.log(pk / qk) for pk, qk in zip(p, q))
    assert abs(got.item() - want) < 1e-6
    torch.testing.assert_close(got, F.kl_div(weights.mean(0).log(), torch.tensor(p), reduction="sum"))


def test_lba_is_zero_when_weights_match_accuracies_and_only_w_gets_gradient() -> None:
    weights, component_logits, targets = _example()
    logits = component_logits.clone().requires_grad_(True)
    bootstrap_alignment_loss(weights, logits, targets).backward()
    assert logits.grad is None and weights.grad.abs().sum() > 0
    acc = (component_logits.argmax(-1) == targets[:, None]).float().mean(0) + 1e-3
    matched = (acc / acc.sum()).expand(6, 4)
    assert bootstrap_alignment_loss(matched, component_logits, targets).abs() < 1e-6


def test_joint_loss_parts_and_switches() -> None:
    weights, component_logits, targets = _example()
    logits = torch.randn(6, 3)
    output = ModelOutput(logits=logits, weights=weights, component_logits=component_logits)
    total, parts = CSGBSBFLoss(lambda_ba=0.1)(output, targets)
    torch.testing.assert_close(parts["ce"], F.cross_entropy(logits, targets))
    torch.testing.assert_close(parts["ba"], bootstrap_alignment_loss(weights, component_logits, targets))
    torch.testing.assert_close(total, parts["ce"] + 0.1 * parts["ba"])
    total_off, parts_off = CSGBSBFLoss(bootstrap_alignment=False)(output, targets)
    assert parts_off["ba"].item() == 0.0
    torch.testing.assert_close(total_off, parts["ce"])
    _, smooth = CSGBSBFLoss(label_smoothing=0.2)(output, targets)
    soft = torch.full((6, 3), 0.2 / 3) + 0.8 * F.one_hot(targets, 3)
    torch.testing.assert_close(smooth["ce"], -(soft * logits.log_softmax(1)).sum(1).mean())


def test_baseline_output_has_only_cross_entropy() -> None:
    logits, targets = torch.randn(4, 7), torch.tensor([0, 1, 2, 3])
    total, parts = CSGBSBFLoss()(ModelOutput(logits=logits), targets)
    torch.testing.assert_close(total, F.cross_entropy(logits, targets))
    assert parts["ba"].item() == 0.0


def test_soft_target_cross_entropy_is_minus_sum_p_log_softmax_and_lba_keeps_the_labels() -> None:
    weights, component_logits, targets = _example()
    logits = torch.randn(6, 3)
    votes = torch.softmax(torch.randn(6, 3), dim=1)
    output = ModelOutput(logits=logits, weights=weights, component_logits=component_logits)
    total, parts = CSGBSBFLoss(lambda_ba=0.1)(output, targets, votes)
    want = 0.0
    for b in range(6):
        log_norm = math.log(sum(math.exp(logits[b, c].item()) for c in range(3)))
        want -= sum(votes[b, c].item() * (logits[b, c].item() - log_norm) for c in range(3)) / 6
    assert abs(parts["ce"].item() - want) < 1e-5
    # L_BA counts component hits on the majority label, not on the vote distribution
    torch.testing.assert_close(parts["ba"], bootstrap_alignment_loss(weights, component_logits, targets))
    torch.testing.assert_close(total, parts["ce"] + 0.1 * parts["ba"])


def test_a_pld_draw_trains_cross_entropy_on_the_drawn_label_not_the_majority() -> None:
    logits, majority, drawn = torch.randn(5, 8), torch.zeros(5, dtype=torch.int64), torch.tensor([7, 0, 3, 3, 1])
    loss = CSGBSBFLoss(label_smoothing=0.1)
    _, parts = loss(ModelOutput(logits=logits), majority, F.one_hot(drawn, 8).float())
    torch.testing.assert_close(parts["ce"], F.cross_entropy(logits, drawn, label_smoothing=0.1))


def test_per_sample_lba_is_the_batch_mean_of_each_samples_kl_to_the_accuracies() -> None:
    weights, component_logits, targets = _example()
    eps = 1e-3
    got = bootstrap_alignment_loss(weights, component_logits, targets, eps=eps, form="per_sample")
    hits = (component_logits.argmax(-1) == targets[:, None]).double().mean(0) + eps
    p = (hits / hits.sum()).tolist()
    want = sum(
        sum(pk * math.log(pk / weights[b, k].item()) for k, pk in enumerate(p)) for b in range(6)
    ) / 6
    assert abs(got.item() - want) < 1e-6
    # every sample's KL is >= 0 and Jensen puts the batch-mean form below it
    assert got.item() >= bootstrap_alignment_loss(weights, component_logits, targets, eps=eps).item()
    got.backward()
    assert weights.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="ba_form must be one of"):
        CSGBSBFLoss(ba_form="mean")


def test_class_weighted_cross_entropy_weighs_each_sample_by_its_class() -> None:
    logits, targets = torch.randn(6, 3), torch.tensor([0, 0, 0, 0, 1, 2])
    weights = torch.tensor([0.5, 2.0, 2.0])
    _, parts = CSGBSBFLoss(class_weights=weights)(ModelOutput(logits=logits), targets)
    per_sample = -logits.log_softmax(1)[torch.arange(6), targets]
    w = weights[targets]
    torch.testing.assert_close(parts["ce"], (w * per_sample).sum() / w.sum())
