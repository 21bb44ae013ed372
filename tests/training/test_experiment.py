"""The shrunk quickstart end to end through run_experiment, resume, the NaN guard, data checks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from fer_graph.data.dataset import FERGraphDataset
from fer_graph.data.readers import discover
from fer_graph.models.checkpoint import load_checkpoint
from fer_graph.training.config import ConfigError, load_config
from fer_graph.training.experiment import run_experiment
from fer_graph.training.report import read_predictions
from fer_graph.training.trainer import NonFiniteLossError, lr_factor

QUIET = Console(quiet=True)


def test_end_to_end_outputs_and_test_split_touched_once(tiny_config, monkeypatch) -> None:
    # the graph-reliance diagnostic reads the test split once more, with other images' graphs
    # (tests/training/test_reliance.py); here only the reported evaluation may read it
    config = tiny_config("train.graph_reliance=false")
    reads: Counter[str] = Counter()
    original = FERGraphDataset.__getitem__

    def counting(self, position):  # a spy: the real __getitem__ runs, accesses are counted
        reads[self.ids[position]] += 1
        return original(self, position)

    monkeypatch.setattr(FERGraphDataset, "__getitem__", counting)
    results = run_experiment(config, QUIET)

    out = Path(config["experiment"]["output_dir"]) / "tiny"
    run_dir = out / "seed0" / "official"
    for name in ("config.yaml", "results.json"):
        assert (out / name).is_file()
    for name in ("checkpoints/best.pt", "checkpoints/last.pt", "log.csv", "curves.png", "run.json",
                 "predictions_test.csv", "metrics_test.json", "confusion_test.png"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert load_config(out / "config.yaml") == config

    # The test split: every test id read exactly once, and nothing else reported on it.
    index = discover(config["data"]["root"])
    test_ids = sorted(s.id for s in index.samples if s.split == "test")
    assert sorted(i for i in reads if i in set(test_ids)) == test_ids
    assert all(reads[i] == 1 for i in test_ids)
    assert results["test_evaluations"] == 1 == json.loads((out / "results.json").read_text())["test_evaluations"]

    # Metrics recomputed independently from the saved predictions.
    saved = json.loads((out / "results.json").read_text())
    preds = read_predictions(run_dir / "predictions_test.csv")
    assert sorted(preds["ids"]) == test_ids
    label_of = {s.id: s.label for s in index.samples}
    labels = np.array([label_of[i] for i in preds["ids"]])
    assert np.array_equal(preds["labels"], labels)
    assert np.array_equal(preds["predicted"], preds["probabilities"].argmax(1))
    np.testing.assert_allclose(preds["probabilities"].sum(1), 1.0, atol=1e-4)
    accuracy = float(np.mean(labels == preds["predicted"]))
    recalls = [np.mean(preds["predicted"][labels == c] == c) for c in np.unique(labels)]
    test = saved["runs"][0]["test"]
    assert test["accuracy"] == pytest.approx(accuracy)
    assert test["uar"] == pytest.approx(float(np.mean(recalls)))
    assert saved["aggregate"]["test_accuracy"]["mean"] == pytest.approx(accuracy)

    # The selected checkpoint loads under weights_only and carries the config and val metrics.
    best = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert best["config"] == config
    assert best["metrics"]["val_accuracy"] == pytest.approx(saved["runs"][0]["best_val"]["val_accuracy"])


class _Interrupt(Exception):
    pass


def test_resume_reaches_the_same_result(tiny_config) -> None:
    straight = tiny_config("experiment.name=straight", "train.epochs=2", "train.max_steps_per_epoch=3")
    full = run_experiment(straight, QUIET)

    broken = tiny_config("experiment.name=broken", "train.epochs=2", "train.max_steps_per_epoch=3")

    def stop_after_first(row: dict, ckpt_dir: Path) -> None:
        if row["epoch"] == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run_experiment(broken, QUIET, on_epoch_end=stop_after_first)
    broken["train"]["resume"] = True
    resumed = run_experiment(broken, QUIET)

    assert resumed["runs"][0]["resumed_from_epoch"] == 1
    assert resumed["runs"][0]["test"] == full["runs"][0]["test"]
    assert _untimed(resumed["runs"][0]["best_val"]) == _untimed(full["runs"][0]["best_val"])
    a = load_checkpoint(Path(straight["experiment"]["output_dir"]) / "straight/seed0/official/checkpoints/last.pt")
    b = load_checkpoint(Path(broken["experiment"]["output_dir"]) / "broken/seed0/official/checkpoints/last.pt")
    for key, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][key]), key
    assert [_untimed(row) for row in a["history"]] == [_untimed(row) for row in b["history"]]


def test_a_run_resumed_on_another_machine_names_both(tiny_config, monkeypatch) -> None:
    import fer_graph.training.trainer as trainer_module

    config = tiny_config("experiment.name=moved", "train.epochs=3", "train.max_steps_per_epoch=2")
    here = trainer_module.machine_record(torch.device("cpu"))
    elsewhere = {**here, "cpu": "Another CPU", "cpu_capability": "AVX512"}

    def stop_after_second(row: dict, ckpt_dir: Path) -> None:
        if row["epoch"] == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run_experiment(config, QUIET, on_epoch_end=stop_after_second)
    run_dir = Path(config["experiment"]["output_dir"]) / "moved/seed0/official"
    assert load_checkpoint(run_dir / "checkpoints/last.pt")["machines"] == [{"from_epoch": 1, **here}]

    # the same machine resuming adds no segment; another one takes over from the next epoch
    monkeypatch.setattr(trainer_module, "machine_record", lambda device: dict(elsewhere))
    config["train"]["resume"] = True
    run = run_experiment(config, QUIET)["runs"][0]
    assert run["machines"] == [{"from_epoch": 1, **here}, {"from_epoch": 3, **elsewhere}]
    assert json.loads((run_dir / "run.json").read_text())["machines"] == run["machines"]

    straight = run_experiment(tiny_config("experiment.name=stayed", "train.epochs=1",
                                          "train.max_steps_per_epoch=2"), QUIET)["runs"][0]
    assert "machines" not in straight


def _untimed(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("images_per_s", "epoch_seconds", "val_seconds")}


def test_non_finite_loss_stops_with_a_clear_message(tiny_config) -> None:
    # the first step blows the weights up; every loss after it is non-finite, so the run stops
    config = tiny_config("train.optimizer=sgd", "train.lr=1e30", "train.grad_clip=null",
                         "train.max_steps_per_epoch=6", "train.max_nonfinite_steps=3")
    with pytest.raises(NonFiniteLossError, match=r"loss was non-finite for 3 steps in a row \(last (nan|inf) "
                                                 r"at epoch 1, step 4; train\.max_nonfinite_steps is 3\): lower train\.lr"):
        run_experiment(config, QUIET)


def test_data_disagreeing_with_config_is_refused_before_training(tiny_config) -> None:
    with pytest.raises(ConfigError, match=r"^model\.num_classes: 6 but the data at .* has 7 classes \(angry,"):
        run_experiment(tiny_config("model.num_classes=6"), QUIET)
    with pytest.raises(ConfigError, match=r"^graphs\.store: .* was built with other parameters \(tau 30\.0 != 25\.0\)"):
        run_experiment(tiny_config("graphs.tau=25.0"), QUIET)


def test_schedule_warms_up_then_follows_the_cosine() -> None:
    warm, total, floor = 4, 20, 0.1
    assert [lr_factor(s, warm, total, floor) for s in range(warm)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    for step in (4, 9, 15, 20):
        expected = floor + (1 - floor) * (1 + np.cos(np.pi * (step - warm) / (total - warm))) / 2
        assert lr_factor(step, warm, total, floor) == pytest.approx(expected)
