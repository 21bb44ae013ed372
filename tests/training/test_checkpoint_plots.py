"""Checkpoint round trip under weights_only loading, RNG capture, and the PNG plots."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_graph.training.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from fer_graph.training.plots import plot_confusion_matrix, plot_training_curves


def test_round_trip_with_weights_only(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5)
    payload = {
        "state_dict": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "config": {"train": {"lr": 1e-3, "amp": False, "grad_clip": None}, "seeds": [0, 1]},
        "metrics": {"val_accuracy": 0.5},
        "epoch": 3,
        "rng": capture_rng_state(),
    }
    path = save_checkpoint(payload, tmp_path / "ckpt" / "last.pt")
    assert not list(path.parent.glob(".*tmp*"))  # temporary file renamed away
    loaded = load_checkpoint(path)
    restored = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    restored.load_state_dict(loaded["state_dict"])
    for a, b in zip(model.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)
    opt2 = torch.optim.Adam(restored.parameters(), lr=1e-3)
    opt2.load_state_dict(loaded["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert loaded["config"] == payload["config"] and loaded["epoch"] == 3


def test_weights_only_refuses_pickled_objects(tmp_path: Path) -> None:
    path = save_checkpoint({"bad": Path("x")}, tmp_path / "bad.pt")
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checkpoint(path)


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
