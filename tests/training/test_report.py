"""Results on disk: each seed's folds scored as one set (pooled), checked against hand counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from fer_graph.training.report import pooled_over_folds, print_summary, write_predictions

CLASSES = ["happy", "sad", "surprise"]


def _write_fold(out: Path, seed: int, fold: str, labels: list[int], predicted: list[int]) -> dict:
    run_dir = out / f"seed{seed}" / fold
    run_dir.mkdir(parents=True)
    probabilities = np.eye(len(CLASSES))[predicted] * 0.9 + 0.1 / len(CLASSES)
    write_predictions(run_dir / "predictions_test.csv", [f"{fold}_{i}" for i in range(len(labels))],
                      labels, probabilities, CLASSES)
    return {"seed": seed, "fold": fold}


def test_pooled_scores_all_folds_of_a_seed_as_one_set(tmp_path: Path) -> None:
    # one subject per fold: each fold alone lacks classes, pooled they are all there
    runs = [_write_fold(tmp_path, 0, "subject01", [0, 0, 1], [0, 1, 1]),
            _write_fold(tmp_path, 0, "subject02", [2, 2], [2, 0]),
            _write_fold(tmp_path, 1, "subject01", [0, 0, 1], [0, 0, 1]),
            _write_fold(tmp_path, 1, "subject02", [2, 2], [1, 2])]
    pooled = pooled_over_folds(tmp_path, runs, CLASSES)

    # seed 0 pooled: labels 0 0 1 2 2, predicted 0 1 1 2 0
    # happy: tp 1 fp 1 fn 1 -> F1 1/2; sad: tp 1 fp 1 fn 0 -> 2/3; surprise: tp 1 fp 0 fn 1 -> 2/3
    # recalls 1/2, 1, 1/2
    seed0 = pooled["per_seed"][0]
    assert seed0 == {"seed": 0, "folds": 2, "num_samples": 5, "accuracy": pytest.approx(3 / 5),
                     "uf1": pytest.approx((1 / 2 + 2 / 3 + 2 / 3) / 3), "uar": pytest.approx((1 / 2 + 1 + 1 / 2) / 3)}
    # seed 1 pooled: labels 0 0 1 2 2, predicted 0 0 1 1 2
    # happy F1 1; sad: tp 1 fp 1 -> 2/3; surprise: tp 1 fn 1 -> 2/3; recalls 1, 1, 1/2
    seed1 = pooled["per_seed"][1]
    assert seed1["uf1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert seed1["uar"] == pytest.approx(2.5 / 3)
    assert pooled["test_uf1"]["mean"] == pytest.approx((seed0["uf1"] + seed1["uf1"]) / 2)
    assert pooled["test_accuracy"]["std"] == pytest.approx(np.std([3 / 5, 4 / 5], ddof=1))
    assert pooled["seeds_left_out"] == []


def test_a_seed_with_an_unfinished_fold_is_left_out_and_one_fold_is_not_pooled(tmp_path: Path) -> None:
    runs = [_write_fold(tmp_path, 0, "fold01", [0, 1], [0, 1]), _write_fold(tmp_path, 0, "fold02", [2], [2]),
            _write_fold(tmp_path, 1, "fold01", [0, 1], [1, 1]), {"seed": 1, "fold": "fold02"}]
    pooled = pooled_over_folds(tmp_path, runs, CLASSES)
    assert [s["seed"] for s in pooled["per_seed"]] == [0] and pooled["seeds_left_out"] == [1]
    assert pooled["test_accuracy"]["mean"] == 1.0
    assert pooled_over_folds(tmp_path, [{"seed": 0, "fold": "official"}], CLASSES) is None


def test_summary_prints_the_pooled_line(tmp_path: Path) -> None:
    runs = [_write_fold(tmp_path, 0, "fold01", [0, 1], [0, 1]), _write_fold(tmp_path, 0, "fold02", [2, 2], [2, 0])]
    for run, acc in zip(runs, (1.0, 0.5)):
        run.update(run=f"seed0/{run['fold']}", best_epoch=1, best_val={"val_accuracy": 0.5}, train_minutes=0.1,
                   test={"accuracy": acc, "uf1": acc, "uar": acc})
    results = {"name": "loso", "runs": runs,
               "aggregate": {k: {"mean": 0.75, "std": 0.35} for k in ("val_accuracy", "test_accuracy", "test_uf1",
                                                                      "test_uar")},
               "pooled": pooled_over_folds(tmp_path, runs, CLASSES)}
    console = Console(record=True, width=200)
    print_summary(console, results)
    # pooled labels 0 1 2 2, predicted 0 1 2 0: accuracy 3/4; F1 2/3, 1, 2/3; recalls 1, 1, 1/2
    line = [ln for ln in console.export_text().splitlines() if ln.startswith("test, each seed's")]
    assert line == ["test, each seed's 2 folds scored as one set (1 seed): accuracy 0.7500, "
                    f"UF1 {(2 / 3 + 1 + 2 / 3) / 3:.4f}, UAR {2.5 / 3:.4f}"]
