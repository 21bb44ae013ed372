"""train.distributed: the tiny config on 2 gloo workers of Ray Train (real Ray, real processes)
against the same run in one process, and the config errors of the switch."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import ray
from rich.console import Console

from fer_graph.data.dataset import FERGraphDataset
from fer_graph.data.readers import discover
from fer_graph.inference.loading import load_model
from fer_graph.inference.predict import Predictor
from fer_graph.models.checkpoint import load_checkpoint
from fer_graph.training.config import ConfigError
from fer_graph.training.experiment import run_experiment
from fer_graph.training.provenance import config_sha256
from fer_graph.training.report import read_predictions

QUIET = Console(quiet=True)

# 2 workers x 16 samples make each global batch of 32 of the one-process run (same samples,
# same initial weights, same order), so only what is computed per batch differs:
# - BatchNorm normalises each worker's 16 samples with their own statistics (there is no
#   SyncBatchNorm on CPUs), and its running buffers are rank 0's, from its 16 samples only;
# - the bootstrap-alignment loss is a mean over each worker's batch, not over the global one;
# - gradients are averaged in another order (float sums).
# Measured on the tiny config (1 epoch): losses differ by <= 4e-4 relative, test probabilities
# by <= 1.4e-3 (their spread across samples is ~2e-2). The tolerances leave ~4x headroom.
LOSS_RTOL = 2e-3
PROBABILITY_ATOL = 5e-3


@pytest.fixture()
def ray_two_cpus():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_two_gloo_workers_match_one_process(tiny_config, ray_two_cpus, monkeypatch) -> None:
    # the graph-reliance diagnostic reads the test split a second time (test_reliance.py)
    single = tiny_config("experiment.name=single", "train.graph_reliance=false")
    alone = run_experiment(single, QUIET)["runs"][0]

    config = tiny_config("experiment.name=dist", "train.graph_reliance=false", "train.distributed={workers: 2}")
    assert config["train"]["distributed"] == {"workers": 2, "use_gpu": False, "address": None}
    reads: Counter[str] = Counter()
    original = FERGraphDataset.__getitem__

    def counting(self, position):  # a spy in this process (the driver): the real __getitem__ runs
        reads[self.ids[position]] += 1
        return original(self, position)

    monkeypatch.setattr(FERGraphDataset, "__getitem__", counting)
    results = run_experiment(config, QUIET)
    monkeypatch.undo()
    run = results["runs"][0]

    # Training and validation ran in the workers; the driver read the test split, once.
    index = discover(config["data"]["root"])
    test_ids = sorted(s.id for s in index.samples if s.split == "test")
    assert sorted(reads) == test_ids and set(reads.values()) == {1}
    assert results["test_evaluations"] == 1 == run["test_evaluations"]

    # Rank 0 wrote what a one-process run writes, once (log.csv has one row per epoch).
    run_dir = Path(config["experiment"]["output_dir"]) / "dist" / "seed0" / "official"
    for name in ("checkpoints/best.pt", "checkpoints/last.pt", "log.csv", "curves.png", "run.json",
                 "predictions_test.csv", "metrics_test.json", "confusion_test.png"):
        assert (run_dir / name).is_file(), name
    assert len((run_dir / "log.csv").read_text().splitlines()) == 1 + config["train"]["epochs"]
    assert json.loads((run_dir / "run.json").read_text())["test"] == run["test"]
    # ... and handed its checkpoints to Ray Train, which kept the last epoch's
    kept = list((run_dir / "ray_train").rglob("best.pt"))
    assert [p.parent.name for p in kept] == [f"epoch{config['train']['epochs']:04d}"]

    # The same figures as one process, within the tolerances above; training figures are over
    # the global batch (summed over workers), not rank 0's share.
    assert run["best_epoch"] == alone["best_epoch"]
    for key in ("train_loss", "train_ce", "val_loss"):
        assert run["best_val"][key] == pytest.approx(alone["best_val"][key], rel=LOSS_RTOL), key
    ours = read_predictions(run_dir / "predictions_test.csv")
    theirs = read_predictions(run_dir.parents[2] / "single" / "seed0" / "official" / "predictions_test.csv")
    assert list(ours["ids"]) == list(theirs["ids"])
    np.testing.assert_allclose(ours["probabilities"], theirs["probabilities"], rtol=0, atol=PROBABILITY_ATOL)
    for key in ("accuracy", "uf1", "uar"):
        # an argmax may flip between two near-equal classes: one test sample's worth
        assert run["test"][key] == pytest.approx(alone["test"][key], abs=1.0 / len(test_ids) + 1e-9), key

    # The selected checkpoint is a plain one: no "module." keys, and it predicts what was saved.
    best = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert not [k for k in best["state_dict"] if k.startswith("module.")]
    assert best["config"] == config
    loaded = load_model(run_dir / "checkpoints" / "best.pt")
    rows = Predictor(loaded).predict_paths([Path(config["data"]["root"]) / i for i in ours["ids"]], batch_size=16)
    # the CSV keeps 6 significant digits
    np.testing.assert_allclose(np.stack([r.probabilities for r in rows]), ours["probabilities"], rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("value, message", [
    ("{workers: 0}", r"^train\.distributed\.workers: must be >= 1, got 0$"),
    ("{workers: 2.5}", r"^train\.distributed\.workers: expected int, got float 2\.5$"),
    ("{workers: true}", r"^train\.distributed\.workers: expected int, got bool True$"),
    ("{use_gpu: 1}", r"^train\.distributed\.use_gpu: expected bool, got int 1$"),
    ("{nodes: 2}", r"^train\.distributed\.nodes: unknown key \(known here: address, use_gpu, workers\)$"),
    ("4", r"^train\.distributed: expected dict or null, got int 4$"),
    ("{workers: 32}", r"^train\.distributed\.workers: 32 workers need train\.batch_size >= 64 "
                      r"\(2 samples per worker\), got 32$"),
])
def test_bad_distributed_values_are_config_errors(tiny_config, value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        tiny_config(f"train.distributed={value}")


def test_distributed_settings_that_contradict_the_device_are_refused(tiny_config) -> None:
    with pytest.raises(ConfigError, match=r"^train\.distributed\.use_gpu: true contradicts train\.device cpu$"):
        tiny_config("train.distributed={use_gpu: true}", "train.device=cpu")
    with pytest.raises(ConfigError, match=r"^train\.distributed\.use_gpu: false contradicts train\.device cuda"):
        tiny_config("train.distributed={workers: 2}", "train.device=cuda")


def test_switch_off_keeps_recorded_hashes_and_the_worker_count_is_hashed(tiny_config) -> None:
    off = tiny_config()
    assert off["train"]["distributed"] is None
    unset = {**off, "train": {k: v for k, v in off["train"].items() if k != "distributed"}}
    # runs recorded before the key existed keep their hash
    assert config_sha256(off) == config_sha256(unset)
    two = tiny_config("train.distributed={workers: 2}")
    assert config_sha256(two) != config_sha256(off)
    assert config_sha256(two) != config_sha256(tiny_config("train.distributed={workers: 3}"))
    # where it runs is not what it computes
    assert config_sha256(two) == config_sha256(tiny_config("train.distributed={workers: 2, address: 'ray://h:1'}"))
