"""make_loader: streaming gives the run that preloading gives, for any worker count."""

from __future__ import annotations

from pathlib import Path

import torch
from rich.console import Console

from fer_graph.models.checkpoint import load_checkpoint
from fer_graph.training.experiment import run_experiment

QUIET = Console(quiet=True)
_TIMED = ("images_per_s", "epoch_seconds", "val_seconds")


def _run(tiny_config, name: str, loading: str, workers: int) -> tuple[dict, dict]:
    config = tiny_config(f"experiment.name={name}", f"data.loading={loading}", f"train.num_workers={workers}",
                         "train.epochs=2", "train.max_steps_per_epoch=4")
    run = run_experiment(config, QUIET)["runs"][0]
    last = load_checkpoint(Path(config["experiment"]["output_dir"]) / name / "seed0/official/checkpoints/last.pt")
    return run, last


def test_stream_and_preload_train_the_same_model(tiny_config) -> None:
    preload, preload_last = _run(tiny_config, "preload", "preload", 0)
    for name, workers in (("stream0", 0), ("stream2", 2)):
        stream, stream_last = _run(tiny_config, name, "stream", workers)
        assert stream["test"] == preload["test"], name
        assert ({k: v for k, v in stream["best_val"].items() if k not in _TIMED}
                == {k: v for k, v in preload["best_val"].items() if k not in _TIMED}), name
        for key, tensor in preload_last["state_dict"].items():
            assert torch.equal(tensor, stream_last["state_dict"][key]), (name, key)
        assert ([{k: v for k, v in row.items() if k not in _TIMED} for row in stream_last["history"]]
                == [{k: v for k, v in row.items() if k not in _TIMED} for row in preload_last["history"]])
