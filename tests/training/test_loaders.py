"""make_loader: streaming in workers trains the model that preloading in one process trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rich.console import Console

from fer_graph.data.freshness import sample_fingerprints
from fer_graph.data.graph_codec import GraphArrays
from fer_graph.data.store import GraphStoreWriter
from fer_graph.granular import GBRParams, build_graph
from fer_graph.models.checkpoint import load_checkpoint
from fer_graph.training.config import load_config
from fer_graph.training.experiment import run_experiment
from fer_graph.training.prepare import prepare_dataset

from training_helpers import TINY

QUIET = Console(quiet=True)
_TIMED = ("images_per_s", "epoch_seconds", "val_seconds")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The tiny config's synthetic data and a current graph store of it, written in this process
    (the run then reuses the store; no Ray start-up, which times out on a loaded machine)."""
    root = tmp_path_factory.mktemp("loaders")
    paths = [f"data.root={root / 'synthetic'}", f"graphs.store={root / 'graphs.h5'}",
             f"experiment.output_dir={root}"]
    config = load_config(TINY, paths)
    index = prepare_dataset(config, QUIET)
    params = GBRParams.from_section(config["graphs"])
    samples = sorted(index.samples, key=lambda s: s.id)
    with GraphStoreWriter(root / "graphs.h5", params, index.class_names, layout=index.layout,
                          root=str(Path(index.root).resolve()), fingerprints=sample_fingerprints(index)) as writer:
        writer.append([s.id for s in samples], [s.label for s in samples], [s.split for s in samples],
                      GraphArrays.from_graphs([build_graph(index.load(s), params) for s in samples]))
    return paths


def _run(paths: list[str], name: str, loading: str, workers: int) -> tuple[dict, dict]:
    config = load_config(TINY, [*paths, f"experiment.name={name}", f"data.loading={loading}",
                                f"train.num_workers={workers}", "train.epochs=2", "train.max_steps_per_epoch=2"])
    run = run_experiment(config, QUIET)["runs"][0]
    last = load_checkpoint(Path(config["experiment"]["output_dir"]) / name / "seed0/official/checkpoints/last.pt")
    return run, last


def _untimed(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _TIMED}


def test_stream_and_preload_train_the_same_model(tiny_data) -> None:
    # in one process against two persistent workers: the epoch-2 augmentation and shuffle must
    # reach the workers, and the test split (with the graph-reliance pass) reads the same
    preload, preload_last = _run(tiny_data, "preload", "preload", 0)
    stream, stream_last = _run(tiny_data, "stream", "stream", 2)
    assert stream["test"] == preload["test"]
    assert _untimed(stream["best_val"]) == _untimed(preload["best_val"])
    assert [_untimed(r) for r in stream_last["history"]] == [_untimed(r) for r in preload_last["history"]]
    for key, tensor in preload_last["state_dict"].items():
        assert torch.equal(tensor, stream_last["state_dict"][key]), key
