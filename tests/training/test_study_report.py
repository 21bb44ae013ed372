"""Study summaries computed from hand-made run rows, checked against sums done by hand."""

from __future__ import annotations

import pytest

from fer_graph.training.study_report import study_markdown, summarise


def row(arm: str, seed: int, accuracy: float, fold: str | None = None) -> dict:
    out = {"arm": arm, "seed": seed, "epochs": 3, "train_minutes": 1.0,
           "metrics": {"val_accuracy": accuracy, "test_accuracy": accuracy, "test_uf1": accuracy,
                       "test_uar": accuracy}}
    if fold is not None:
        out["fold"] = fold
    return out


def test_k_fold_differences_are_averaged_over_seeds_per_fold() -> None:
    # fold f0: +0.10 and +0.30 over the seeds -> +0.20; fold f1: -0.20 and +0.00 -> -0.10
    base = [row("a", 0, 0.5, "f0"), row("a", 1, 0.5, "f0"), row("a", 0, 0.6, "f1"), row("a", 1, 0.6, "f1")]
    arm = [row("b", 0, 0.6, "f0"), row("b", 1, 0.8, "f0"), row("b", 0, 0.4, "f1"), row("b", 1, 0.6, "f1")]
    by_fold = summarise(base + arm, "a")["b"]["paired"]["test_accuracy_by_fold"]
    assert by_fold["folds"] == ["f0", "f1"]
    assert by_fold["values"] == pytest.approx([0.20, -0.10])
    assert by_fold["mean"] == pytest.approx(0.05)
    assert by_fold["std"] == pytest.approx((2 * 0.15 ** 2) ** 0.5)  # sample std of two values 0.3 apart
    assert (by_fold["ahead"], by_fold["behind"]) == (1, 1)


def test_k_fold_table_is_written_only_for_k_fold_studies() -> None:
    folds = [row("a", 0, 0.5, "f0"), row("a", 0, 0.6, "f1"), row("b", 0, 0.7, "f0"), row("b", 0, 0.6, "f1")]
    data = {"study": "s", "dataset": "ckplus48", "budget": "full", "baseline": "a", "runs": folds,
            "summary": summarise(folds, "a")}
    assert "| b | 2 | +20.00, +0.00 | +10.00 ± 14.14 | 1 / 0 |" in study_markdown(data)

    single = [row("a", 0, 0.5), row("a", 1, 0.6), row("b", 0, 0.7), row("b", 1, 0.6)]
    summary = summarise(single, "a")
    assert "test_accuracy_by_fold" not in summary["b"]["paired"]
    data.update(runs=single, summary=summary)
    assert "Per fold" not in study_markdown(data)


def test_the_report_says_which_machine_made_which_runs() -> None:
    runs = [row("a", 0, 0.5), row("a", 1, 0.6), row("b", 0, 0.7), row("b", 1, 0.6)]
    data = {"study": "s", "dataset": "fer2013", "budget": "full", "baseline": "a", "runs": runs,
            "summary": summarise(runs, "a")}
    assert "Machines" not in study_markdown(data)  # none recorded: nothing to say
    zen = {"cpu": "AMD EPYC", "cpu_capability": "AVX2", "cpu_bf16": False, "threads": 2, "torch": "2.14.1",
           "device": "cpu"}
    for run in runs[1:]:
        run["machine"] = zen
    runs[3]["machine"] = {**zen, "cpu": "Intel Xeon", "cpu_capability": "AVX512"}
    table = study_markdown(data)
    assert "- not recorded (runs made before run.json named its machine): a seeds 0\n" in table
    assert "- AMD EPYC (AVX2, cpu, 2 threads, torch 2.14.1): a seeds 1; b seeds 0\n" in table
    assert "- Intel Xeon (AVX512, cpu, 2 threads, torch 2.14.1): b seeds 1\n" in table
    # a run resumed on another machine is listed under both, with the epochs each trained
    runs[2]["machines"] = [{"from_epoch": 1, **zen}, {"from_epoch": 4, **runs[3]["machine"]}]
    runs[0]["machines"] = [{"from_epoch": 3, **zen}]
    table = study_markdown(data)
    assert ("- trained from epoch 1 on AMD EPYC (AVX2, cpu, 2 threads, torch 2.14.1), then from epoch 4 on "
            "Intel Xeon (AVX512, cpu, 2 threads, torch 2.14.1): b seeds 0\n") in table
    assert ("- trained epochs 1-2 on a machine not recorded, then from epoch 3 on AMD EPYC (AVX2, cpu, "
            "2 threads, torch 2.14.1): a seeds 0\n") in table
