"""Checkpoint files: atomic round trip of plain data; pickled objects and garbage refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_graph.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_keeps_weights_optimizer_and_plain_data(tmp_path: Path) -> None:
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
    }
    path = save_checkpoint(payload, tmp_path / "ckpt" / "last.pt")
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # temporary file renamed away
    loaded = load_checkpoint(path)
    restored = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    restored.load_state_dict(loaded["state_dict"])
    for a, b in zip(model.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)
    opt2 = torch.optim.Adam(restored.parameters(), lr=1e-3)
    opt2.load_state_dict(loaded["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert loaded["config"] == payload["config"] and loaded["epoch"] == 3


class Payload:
    """A class whose unpickling would run code: loading must never construct it."""

    built = 0

    def __setstate__(self, state) -> None:
        Payload.built += 1


def test_a_pickled_object_is_refused_unbuilt_and_named(tmp_path: Path) -> None:
    path = save_checkpoint({"state_dict": {}, "config": {}, "extra": Payload()}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt: holds a pickled \S*Payload object"):
        load_checkpoint(path)
    assert Payload.built == 0


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes\.pt: not a readable torch checkpoint"):
        load_checkpoint(text)
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_checkpoint(tmp_path / "absent.pt")
