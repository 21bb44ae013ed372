"""A tiny Ray Tune search on CPU: 4 one-epoch trials, validation only, best config runnable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from fer_graph.training.config import load_config
from fer_graph.training.search import run_search

ray = pytest.importorskip("ray")


@pytest.fixture()
def ray_cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_tiny_search_reports_validation_and_writes_a_runnable_best_config(tiny_config, ray_cluster) -> None:
    config = tiny_config(
        "experiment.name=tune_tiny",
        "train.max_steps_per_epoch=2",
        "search.space={train.lr: {type: loguniform, low: 1e-4, high: 1e-2}, "
        "loss.lambda_ba: {type: choice, values: [0.0, 0.1]}}",
        "search.num_samples=4",
        "search.cpus_per_trial=1",
        "search.scheduler={type: asha, max_t: 1, grace_period: 1, reduction_factor: 2}",
    )
    outcome = run_search(config, Console(quiet=True))

    out = Path(config["experiment"]["output_dir"]) / "tune_tiny" / "search" / config["search"]["name"]
    assert len(outcome["trials"]) == 4 and outcome["failed_trials"] == 0
    for trial in outcome["trials"]:
        assert 1e-4 <= trial["params"]["train.lr"] <= 1e-2
        assert trial["params"]["loss.lambda_ba"] in (0.0, 0.1)
        assert 0.0 <= trial["best_val_accuracy"] <= 1.0 and trial["epochs"] == 1
    # Every metric any trial reported: validation and training only, never the test split.
    reported = set()
    for result_file in out.glob("*/result.json"):
        for line in result_file.read_text().splitlines():
            reported |= set(json.loads(line))
    assert "val_accuracy" in reported and not any(k.startswith("test") for k in reported)
    assert list(out.glob("*/checkpoint_*/last.pt"))  # per-epoch Tune checkpoints for resume

    best = load_config(outcome["best_config_path"])
    assert "search" not in best
    assert best["train"]["lr"] == pytest.approx(outcome["best_params"]["train.lr"])
    assert best["loss"]["lambda_ba"] == outcome["best_params"]["loss.lambda_ba"]
    top = max(t["best_val_accuracy"] for t in outcome["trials"])
    assert outcome["best_metric"] == top
    assert outcome["best_params"] in [t["params"] for t in outcome["trials"] if t["best_val_accuracy"] == top]
