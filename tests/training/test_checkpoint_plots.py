"""RNG state through a checkpoint file, and the PNG plots."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from fer_graph.models.checkpoint import load_checkpoint, save_checkpoint
from fer_graph.training.checkpoint import capture_rng_state, restore_rng_state
from fer_graph.training.plots import plot_confusion_matrix, plot_training_curves


def test_rng_state_restores_all_generators(tmp_path: Path) -> None:
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    path = save_checkpoint({"rng": state}, tmp_path / "rng.pt")
    restore_rng_state(load_checkpoint(path)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_plots_write_png_files(tmp_path: Path) -> None:
    cm = np.array([[3, 1], [0, 4]])
    png = plot_confusion_matrix(cm, ["happy", "sad"], tmp_path / "cm.png")
    history = [
        {"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.4, "val_accuracy": 0.3},
        {"epoch": 2, "train_loss": 0.8, "val_loss": None, "train_accuracy": 0.6, "val_accuracy": None},
    ]
    curves = plot_training_curves(history, tmp_path / "curves.png")
    for p in (png, curves):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_confusion_png_colours_each_cell_by_its_row_share_true_classes_down(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    from PIL import Image

    # row shares 0.75 | 0.25 and 0 | 1: four distinct Blues levels, one per cell
    path = plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["happy", "sad"], tmp_path / "cm.png")
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    centres = {}
    for share in (0.75, 0.25, 0.0, 1.0):
        colour = np.array(plt.get_cmap("Blues")(share)[:3]) * 255
        rows, cols = np.nonzero(np.abs(pixels - colour).max(axis=2) <= 2)
        assert len(rows) > 400, f"no cell drawn at share {share}"  # a cell, not the colour bar's sliver
        centres[share] = (np.median(rows), np.median(cols))
    # true class down the rows, predicted across the columns
    assert centres[0.75][0] < centres[0.0][0] and centres[0.25][0] < centres[1.0][0]
    assert centres[0.75][1] < centres[0.25][1] and centres[0.0][1] < centres[1.0][1]
