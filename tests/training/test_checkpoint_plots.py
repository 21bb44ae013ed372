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


def _pixels_of(pixels: np.ndarray, colour_name: str) -> tuple[np.ndarray, np.ndarray]:
    import matplotlib.colors as mcolors

    colour = np.array(mcolors.to_rgb(colour_name)) * 255
    return np.nonzero(np.abs(pixels - colour).max(axis=2) <= 3)


def test_training_curves_draw_each_split_in_its_panel_in_the_direction_of_its_values(tmp_path: Path) -> None:
    from PIL import Image

    history = [
        {"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.4, "val_accuracy": 0.3},
        {"epoch": 2, "train_loss": 0.9, "val_loss": None, "train_accuracy": 0.5, "val_accuracy": None},
        {"epoch": 3, "train_loss": 0.8, "val_loss": None, "train_accuracy": 0.6, "val_accuracy": None},
    ]
    image = Image.open(plot_training_curves(history, tmp_path / "curves.png"))
    assert image.size == (1100, 440)  # figsize 10 x 4 inches at 110 dpi
    pixels = np.asarray(image.convert("RGB")).astype(int)
    half = pixels.shape[1] // 2

    def lowest_and_highest(colour: str, right_panel: bool) -> tuple[float, float]:
        """Column (as a share of the panel's width) of the colour's lowest and highest pixel."""
        rows, cols = _pixels_of(pixels, colour)
        keep = (cols >= half) == right_panel
        rows, cols = rows[keep], (cols[keep] - (half if right_panel else 0)) / half
        return cols[rows.argmax()], cols[rows.argmin()]

    # The legend's samples sit at the top of each panel, so only the lowest pixels are read
    # everywhere, and the highest only where the curve point is known to be above the legend.
    # Loss falls: train's lowest point is its last epoch (right); val's only point, 1.1, is the
    # top of the panel at epoch 1 (left).
    assert lowest_and_highest("C0", right_panel=False)[0] > 0.8
    assert lowest_and_highest("C1", right_panel=False)[1] < 0.2
    # Accuracy rises: train's lowest point is its first epoch; val's only point is at epoch 1.
    assert lowest_and_highest("C0", right_panel=True)[0] < 0.2
    assert lowest_and_highest("C1", right_panel=True)[0] < 0.2


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
