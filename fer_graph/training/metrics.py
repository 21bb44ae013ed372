"""Classification metrics: accuracy, UF1 (macro F1), UAR (macro recall), per-class table.

Macro averages run over the classes that occur in the ground truth, so a fold without a
class (a CK+ subject split, say) is not charged a zero for it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(labels: Sequence[int], predicted: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class, shape (C, C) int64."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predicted.shape} differ in shape")
    flat = labels * num_classes + predicted
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def metrics_from_confusion(cm: np.ndarray, class_names: Sequence[str] | None = None) -> dict:
    """Accuracy, UF1, UAR and a per-class table from a confusion matrix.

    Returns:
        A JSON-ready dict: accuracy, uf1, uar, num_samples, per_class (list of
        {name, precision, recall, f1, support}) and confusion_matrix (nested lists).
    """
    cm = np.asarray(cm, dtype=np.int64)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "uf1": float(f1[present].mean()) if present.any() else 0.0,
        "uar": float(recall[present].mean()) if present.any() else 0.0,
        "num_samples": int(total),
        "per_class": [
            {"name": n, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for n, p, r, f, s in zip(names, precision, recall, f1, support)
        ],
        "confusion_matrix": cm.tolist(),
    }


def classification_metrics(
    labels: Sequence[int], predicted: Sequence[int], class_names: Sequence[str]
) -> dict:
    """All metrics of `metrics_from_confusion` straight from label and prediction arrays."""
    return metrics_from_confusion(confusion_matrix(labels, predicted, len(class_names)), class_names)


def summarize(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (0 for a single value) of repeated runs."""
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "n": int(len(arr)), "values": arr.tolist()}
