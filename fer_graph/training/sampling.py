"""Imbalance-aware training: class-balanced sampling (`train.sampler`) and class weights (`loss.class_weights`).

Both read only the training labels of the fold being trained, never validation or test.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Sampler, WeightedRandomSampler

from fer_graph.errors import ConfigError

SAMPLERS = ("none", "class_balanced")
CLASS_WEIGHTS = ("none", "balanced")


def class_counts(labels: Sequence[int], num_classes: int) -> np.ndarray:
    """How many samples of each class id in ``labels``, (num_classes,)."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return np.bincount(labels, minlength=num_classes)


def class_balanced_sampler(labels: Sequence[int], num_classes: int) -> WeightedRandomSampler:
    """Draws len(labels) indices per epoch with replacement, every class equally likely.

    A sample of class c has weight 1 / count(c), so each class present carries the same total
    mass. Draws come from torch's global generator, like the loader's shuffle, so a resumed run
    that restores the RNG state draws the same epoch.
    """
    counts = class_counts(labels, num_classes)
    weights = 1.0 / counts[np.asarray(labels, dtype=np.int64)]
    return WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), num_samples=len(labels),
                                 replacement=True)


def balanced_class_weights(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """w_c = N / (C * count(c)) (1 for the mean sample); a class absent from training gets 0.

    Raises:
        ConfigError: no training labels at all.
    """
    counts = class_counts(labels, num_classes)
    if counts.sum() == 0:
        raise ConfigError("loss.class_weights: the training split is empty")
    present = counts > 0
    weights = np.zeros(num_classes, dtype=np.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.as_tensor(weights, dtype=torch.float32)


def train_sampler(config: dict, labels: Sequence[int]) -> Sampler | None:
    """The sampler of ``train.sampler`` for a training loader, None for plain shuffling."""
    if config["train"]["sampler"] == "none":
        return None
    return class_balanced_sampler(labels, config["model"]["num_classes"])


def loss_class_weights(config: dict, labels: Sequence[int]) -> torch.Tensor | None:
    """The CE class weights of ``loss.class_weights`` from the training labels, None when off."""
    if config["loss"]["class_weights"] == "none":
        return None
    return balanced_class_weights(labels, config["model"]["num_classes"])
