"""PNG plots of results: confusion matrix, training curves, arm comparison (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless machines and Ray workers have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion_matrix(
    cm: np.ndarray, class_names: Sequence[str], path: str | Path, title: str = "Confusion matrix"
) -> Path:
    """Row-normalised confusion matrix (colour = recall share) annotated with raw counts."""
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set_xticks(range(n), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color=colour, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_training_curves(history: Sequence[dict], path: str | Path) -> Path:
    """Loss and accuracy per epoch for the train and validation splits."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-"), ("val", "--")):
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            key = f"{split}_{metric}"
            points = [(e, h[key]) for e, h in zip(epochs, history) if h.get(key) is not None]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, style, marker="o", markersize=3, label=split)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_arm_comparison(
    values: dict[str, Sequence[float]], path: str | Path, ylabel: str, title: str, baseline: str | None = None
) -> Path:
    """One bar per arm at its mean (error bar: sample std), each run a dot on it; the baseline in grey."""
    arms = list(values)
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(arms), 4.2))
    for i, arm in enumerate(arms):
        ys = np.asarray(values[arm], dtype=float)
        std = ys.std(ddof=1) if len(ys) > 1 else 0.0
        ax.bar(i, ys.mean(), width=0.6, color="0.75" if arm == baseline else "tab:blue", alpha=0.8,
               yerr=std, capsize=4)
        offsets = np.linspace(-0.15, 0.15, len(ys)) if len(ys) > 1 else np.zeros(1)
        ax.scatter(i + offsets, ys, color="black", s=14, zorder=3)
    every = np.concatenate([np.asarray(v, dtype=float) for v in values.values()])
    span = max(every.max() - every.min(), 0.01)
    ax.set_ylim(every.min() - span, every.max() + span)
    ax.set_xticks(range(len(arms)), labels=arms, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
