"""Graph reliance: the fixed derangement, W spread, shuffle figures, and the run's record of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from fer_graph.data.dataset import FERGraphDataset
from fer_graph.data.store import GraphStore
from fer_graph.training.experiment import run_experiment
from fer_graph.training.reliance import (
    fixed_derangement,
    shuffle_metrics,
    shuffled_graph_ids,
    weight_spread,
)
from fer_graph.training.report import read_predictions

QUIET = Console(quiet=True)


@pytest.mark.parametrize("n", [2, 3, 10, 357])
def test_fixed_derangement_moves_every_item_and_repeats(n: int) -> None:
    perm = fixed_derangement(n)
    assert sorted(perm.tolist()) == list(range(n))
    assert np.all(perm != np.arange(n))
    assert np.array_equal(perm, fixed_derangement(n))
    assert n < 10 or not np.array_equal(perm, fixed_derangement(n, seed=1))


def test_fixed_derangement_rejects_a_single_item() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        fixed_derangement(1)


def test_shuffled_graph_ids_follow_the_derangement() -> None:
    ids = [f"img{i}" for i in range(7)]
    perm = fixed_derangement(7)
    assert shuffled_graph_ids(ids) == [ids[j] for j in perm]


def test_weight_spread_against_hand_values() -> None:
    weights = np.array([[0.5, 0.5], [0.7, 0.3], [0.3, 0.7]])
    spread = weight_spread(weights)
    assert spread["weight_mean"] == pytest.approx([0.5, 0.5])
    expected = np.sqrt(((0.2**2) * 2) / 3)  # population std of (0.5, 0.7, 0.3)
    assert spread["weight_std_per_component"] == pytest.approx([expected, expected])
    assert spread["weight_std"] == pytest.approx(expected)


def test_shuffle_metrics_counts_changes_and_hits() -> None:
    labels = np.array([0, 1, 2, 1])
    got = shuffle_metrics(labels, np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
    assert got == {"graph_shuffle_changed": 0.5, "graph_shuffle_accuracy": 0.75}
    with pytest.raises(ValueError, match="shapes differ"):
        shuffle_metrics(labels, labels[:3], labels)


def test_dataset_reads_the_graph_of_graph_ids(shared_data) -> None:
    store = GraphStore(shared_data["graphs.store"])
    ids = list(store.ids[:5])
    swapped = shuffled_graph_ids(ids)
    images = {i: np.zeros((48, 48), np.uint8) for i in ids}
    labels = [int(store.labels[store.row(i)]) for i in ids]
    dataset = FERGraphDataset(images, store, ids, labels, graph_ids=swapped)
    for position, other in enumerate(swapped):
        assert np.array_equal(dataset[position][1].features, store.get(other).features)
    with pytest.raises(ValueError, match="graph_ids"):
        FERGraphDataset(images, store, ids, labels, graph_ids=swapped[:2])


def test_run_records_graph_reliance(tiny_config) -> None:
    config = tiny_config()
    results = run_experiment(config, QUIET)
    test = results["runs"][0]["test"]
    run_dir = Path(config["experiment"]["output_dir"]) / "tiny" / "seed0" / "official"
    saved = json.loads((run_dir / "run.json").read_text())["test"]
    assert saved == test
    assert 0.0 <= test["graph_shuffle_changed"] <= 1.0
    assert 0.0 <= test["graph_shuffle_accuracy"] <= 1.0
    k = config["model"]["num_components"]
    assert len(test["weight_mean"]) == k and sum(test["weight_mean"]) == pytest.approx(1.0, abs=1e-4)
    assert test["weight_std"] == pytest.approx(np.mean(test["weight_std_per_component"]))
    # the shuffled accuracy can only differ from the test accuracy through changed predictions
    preds = read_predictions(run_dir / "predictions_test.csv")
    assert abs(test["graph_shuffle_accuracy"] - test["accuracy"]) <= test["graph_shuffle_changed"] + 1e-9
    assert len(preds["ids"]) == test["num_samples"]
    agg = results["aggregate"]
    assert agg["test_graph_shuffle_changed"]["mean"] == pytest.approx(test["graph_shuffle_changed"])


def test_image_only_models_and_switch_off_have_no_reliance(tiny_config) -> None:
    # srsn: false fuses with a learned query and reads no graphs, like VREN-only
    for k, overrides in enumerate((["model.name=vren_only"], ["model.srsn=false", "model.agm.enabled=false"])):
        test = run_experiment(tiny_config(*overrides, f"experiment.name=image_only{k}"), QUIET)["runs"][0]["test"]
        assert "graph_shuffle_changed" not in test and "weight_std" not in test, overrides
    off = run_experiment(tiny_config("train.graph_reliance=false", "experiment.name=reliance_off"), QUIET)["runs"][0]["test"]
    assert "graph_shuffle_changed" not in off and "weight_std" not in off


def test_vren_only_with_graph_guidance_reads_graphs_and_records_reliance(tiny_config) -> None:
    config = tiny_config("model.name=vren_only", "model.graph_guidance_stage=1", "experiment.name=vren_gvg")
    test = run_experiment(config, QUIET)["runs"][0]["test"]
    assert 0.0 <= test["graph_shuffle_changed"] <= 1.0
    assert abs(test["graph_shuffle_accuracy"] - test["accuracy"]) <= test["graph_shuffle_changed"] + 1e-9
    assert "weight_std" not in test  # no RFN, so no fusion weights
