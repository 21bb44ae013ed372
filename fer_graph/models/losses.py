"""L_BA (bootstrap alignment, Eqs. 8-9) and the joint CS-GBSBF loss (Eq. 10)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fer_graph.models.output import ModelOutput

# "batch_mean": KL(ACCs || mean_b W_b), one distribution per batch on each side (the default of
# every config that predates the switch); "per_sample": mean_b KL(ACCs || W_b), Eq. 9 applied to
# each sample's W, the plainest reading of the paper.
BA_FORMS = ("batch_mean", "per_sample")


def component_accuracies(component_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """ACCs (Eq. 8): the batch accuracy of CHN(C_k^v) for each k, (K,), without gradient."""
    with torch.no_grad():
        hits = component_logits.argmax(dim=-1) == targets.unsqueeze(1)
        return hits.to(component_logits.dtype).mean(dim=0)


def bootstrap_alignment_loss(
    weights: torch.Tensor, component_logits: torch.Tensor, targets: torch.Tensor, eps: float = 1e-3,
    form: str = "batch_mean",
) -> torch.Tensor:
    """L_BA: KL(ACCs-distribution || W), Eq. 9.

    Exactly: acc_k = mean_b [argmax_c component_logits[b, k, c] == y_b] (no gradient);
    p_k = (acc_k + eps) / sum_j (acc_j + eps), so zero accuracies keep a small mass and all
    zero gives the uniform distribution. ``form="batch_mean"``: q_k = mean_b W[b, k] (one
    distribution per batch, like ACCs, leaving each sample's W free to differ from the
    batch's), L_BA = sum_k p_k (log p_k - log q_k). ``form="per_sample"``: L_BA =
    mean_b sum_k p_k (log p_k - log W[b, k]), which pulls every sample's W towards ACCs.
    Gradient reaches only W.

    Args:
        weights: W (B, K).
        component_logits: (B, K, num_classes).
        targets: (B,) class ids.
        eps: additive smoothing of the accuracies.
        form: one of BA_FORMS.
    """
    if form not in BA_FORMS:
        raise ValueError(f"ba_form must be one of {BA_FORMS}, got {form!r}")
    acc = component_accuracies(component_logits, targets) + eps
    p = acc / acc.sum()
    tiny = torch.finfo(weights.dtype).tiny
    if form == "per_sample":
        return (p * (p.log() - weights.clamp_min(tiny).log())).sum(dim=1).mean()
    q = weights.mean(dim=0).clamp_min(tiny)
    return (p * (p.log() - q.log())).sum()


class CSGBSBFLoss(nn.Module):
    """Joint loss L = CE + lambda * L_BA (Eq. 10), CE on labels or on target distributions."""

    def __init__(
        self,
        *,
        lambda_ba: float = 0.1,
        bootstrap_alignment: bool = True,
        label_smoothing: float = 0.0,
        eps: float = 1e-3,
        ba_form: str = "batch_mean",
        class_weights: torch.Tensor | None = None,
    ) -> None:
        """Args:
            lambda_ba: lambda of Eq. 10.
            bootstrap_alignment: False drops L_BA (ablation); "ba" is then reported as 0.
            label_smoothing: cross-entropy label smoothing.
            eps: smoothing of zero accuracies in L_BA.
            ba_form: how W enters L_BA, one of BA_FORMS (see bootstrap_alignment_loss).
            class_weights: (num_classes,) weights of the CE terms (imbalanced data); None: all 1.
                CE is then the weighted mean over the batch, as torch's ``weight=``.
        """
        super().__init__()
        if ba_form not in BA_FORMS:
            raise ValueError(f"ba_form must be one of {BA_FORMS}, got {ba_form!r}")
        self.lambda_ba = lambda_ba
        self.bootstrap_alignment = bootstrap_alignment
        self.label_smoothing = label_smoothing
        self.eps = eps
        self.ba_form = ba_form
        self.class_weights = class_weights

    def forward(
        self, output: ModelOutput, targets: torch.Tensor, distributions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the total loss and its parts {"ce", "ba"} (ba is 0 when off or without W).

        Args:
            output: the model output.
            targets: (B,) class ids, the majority label.
            distributions: (B, num_classes) rows summing to 1 (``loss.target`` soft or pld):
                CE is then -sum_c p_c log softmax_c against them instead of ``targets``.
        """
        ce_target = targets if distributions is None else distributions
        weight = None if self.class_weights is None else self.class_weights.to(output.logits.device)
        ce = F.cross_entropy(output.logits, ce_target, weight=weight, label_smoothing=self.label_smoothing)
        use_ba = (
            self.bootstrap_alignment
            and output.weights is not None
            and output.component_logits is not None
        )
        if use_ba:
            # ACCs measure how often each component is right, so they count hits on the majority
            # label even when CE trains on vote distributions or drawn labels (soft, pld)
            ba = bootstrap_alignment_loss(output.weights, output.component_logits, targets, self.eps,
                                          self.ba_form)
        else:
            ba = ce.new_zeros(())
        return ce + self.lambda_ba * ba, {"ce": ce, "ba": ba}
