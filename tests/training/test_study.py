"""Studies: configs x seeds run once, read back on a rerun, compared against the run folders."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from fer_graph.training.config import ConfigError
from fer_graph.training.config_files import load_yaml
from fer_graph.training.provenance import REPO_ROOT
from fer_graph.training.study import (archive_runs, check_arms, restore_from_study_json, restore_runs,
                                      run_study, study_plan)
from fer_graph.training.study_report import print_plan, study_json, study_markdown, write_study_report

from training_helpers import study_overrides

QUIET = Console(quiet=True)


def test_comparison_table_matches_the_run_folders(arms, shared_data, tmp_path) -> None:
    runs_dir = tmp_path / "runs"
    result = run_study(arms, [0, 1], runs_dir, "s", study_overrides(shared_data), QUIET)
    data = study_json("s", "synthetic", "proxy", "paper", result)

    on_disk = {}
    for arm in ("paper", "concat"):
        for seed in (0, 1):
            on_disk[arm, seed] = json.loads((runs_dir / "s" / arm / f"seed{seed}" / "official" / "run.json").read_text())
    assert {(r["arm"], r["seed"]) for r in data["runs"]} == set(on_disk)
    for row in data["runs"]:
        run = on_disk[row["arm"], row["seed"]]
        assert row["metrics"]["test_accuracy"] == run["test"]["accuracy"]
        assert row["metrics"]["val_accuracy"] == run["best_val"]["val_accuracy"]
        assert row["metrics"]["graph_shuffle_changed"] == run["test"]["graph_shuffle_changed"]
        assert row["config_sha256"] == run["config_sha256"] and len(row["config_sha256"]) == 64
        assert row["epochs"] == 1 and "fold" not in row
        assert row["config"].endswith(f"{row['arm']}.yaml")
        assert row["machine"] == run["machine"] and run["machine"]["device"] == "cpu"

    for arm in ("paper", "concat"):
        accs = [on_disk[arm, s]["test"]["accuracy"] for s in (0, 1)]
        stats = data["summary"][arm]["metrics"]["test_accuracy"]
        assert stats["mean"] == pytest.approx(np.mean(accs))
        assert stats["std"] == pytest.approx(np.std(accs, ddof=1))
    diffs = [on_disk["concat", s]["test"]["uf1"] - on_disk["paper", s]["test"]["uf1"] for s in (0, 1)]
    paired = data["summary"]["concat"]["paired"]
    assert paired["test_uf1"]["values"] == pytest.approx(diffs)
    assert "paired" not in data["summary"]["paper"]

    table = study_markdown(data)
    mean = data["summary"]["concat"]["metrics"]["test_accuracy"]["mean"] * 100
    assert f"| concat | 2 | 1 |" in table and f"{mean:.2f} ± " in table
    paths = write_study_report(data, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["runs"] == data["runs"]
    import matplotlib.image

    assert matplotlib.image.imread(paths["png"]).shape[1] == int((1.6 + 1.1 * 2) * 110)


def test_rerun_reads_finished_pairs_and_resumes_an_interrupted_one(arms, shared_data, tmp_path) -> None:
    runs_dir = tmp_path / "runs"
    first = run_study(arms[:1], [0, 1], runs_dir, "s", study_overrides(shared_data), QUIET)
    done = runs_dir / "s" / "paper" / "seed0" / "official" / "run.json"
    stamp = done.stat().st_mtime_ns
    # seed 1 stopped after its last epoch's checkpoint, before its run.json was written
    interrupted = runs_dir / "s" / "paper" / "seed1" / "official" / "run.json"
    interrupted.unlink()

    second = run_study(arms[:1], [0, 1], runs_dir, "s", study_overrides(shared_data), QUIET)

    assert done.stat().st_mtime_ns == stamp
    again = {r["seed"]: r for r in second["paper"]["runs"]}
    assert again[1]["resumed_from_epoch"] == 1
    assert again[1]["test"] == {r["seed"]: r for r in first["paper"]["runs"]}[1]["test"]


def test_another_config_never_overwrites_a_finished_run(arms, shared_data, tmp_path) -> None:
    runs_dir = tmp_path / "runs"
    run_study(arms[:1], [0], runs_dir, "s", study_overrides(shared_data), QUIET)
    with pytest.raises(ConfigError, match=r"paper/seed0/official/run\.json holds a run of another config"):
        run_study(arms[:1], [0], runs_dir, "s", [*study_overrides(shared_data), "train.lr=0.5"], QUIET)


def test_archived_runs_come_back_in_a_fresh_runs_folder_untrained(arms, shared_data, tmp_path) -> None:
    runs_dir, archive = tmp_path / "runs", tmp_path / "docs" / "runs"
    first = run_study(arms[:1], [0], runs_dir, "s", study_overrides(shared_data), QUIET)
    assert archive_runs(runs_dir, "s", archive) == 1
    kept = sorted(p.name for p in (archive / "s" / "paper" / "seed0" / "official").iterdir())
    assert kept == ["log.csv", "metrics_test.json", "run.json"]
    assert (archive / "s" / "paper" / "config.yaml").is_file()
    shutil.rmtree(runs_dir)

    assert restore_runs(archive, runs_dir, "s") == 1
    again = run_study(arms[:1], [0], runs_dir, "s", study_overrides(shared_data), QUIET)

    assert again["paper"]["runs"] == first["paper"]["runs"]
    assert not (runs_dir / "s" / "paper" / "seed0" / "official" / "checkpoints").exists()
    assert restore_runs(archive, runs_dir, "s") == 0


def test_runs_listed_in_the_study_json_are_not_retrained_when_their_folders_are_gone(
        arms, shared_data, tmp_path) -> None:
    runs_dir = tmp_path / "runs"
    first = run_study(arms, [0], runs_dir, "s", study_overrides(shared_data), QUIET)
    data = study_json("s", "synthetic", "proxy", "paper", first)
    paths = write_study_report(data, tmp_path / "out")
    shutil.rmtree(runs_dir)

    assert restore_from_study_json(paths["json"], runs_dir) == 2
    again = run_study(arms, [0], runs_dir, "s", study_overrides(shared_data), QUIET)

    assert not (runs_dir / "s" / "paper" / "seed0" / "official" / "checkpoints").exists()
    assert study_json("s", "synthetic", "proxy", "paper", again)["runs"] == data["runs"]
    restored = again["concat"]["runs"][0]
    assert (REPO_ROOT / restored["restored_from"]).resolve() == paths["json"].resolve()
    assert restored["test"]["graph_shuffle_changed"] == first["concat"]["runs"][0]["test"]["graph_shuffle_changed"]
    assert restore_from_study_json(paths["json"], runs_dir) == 0


def test_report_only_trains_nothing(arms, shared_data, tmp_path) -> None:
    result = run_study(arms, [0], tmp_path / "runs", "s", study_overrides(shared_data), QUIET, train=False)
    assert result["paper"]["runs"] == [] and result["concat"]["runs"] == []
    assert not (tmp_path / "runs" / "s" / "paper" / "seed0").exists()


def test_arm_names_must_be_distinct_and_hold_the_baseline(tmp_path) -> None:
    with pytest.raises(ConfigError, match="same arm name paper"):
        check_arms([tmp_path / "a" / "paper.yaml", tmp_path / "b" / "paper.yaml"], None)
    with pytest.raises(ConfigError, match="--baseline 'vren' is not one of the arms: paper, gvg"):
        check_arms(["paper.yaml", "gvg.yaml"], "vren")


def test_one_arm_run_alone_keeps_the_other_arms_of_the_report(arms, shared_data, tmp_path) -> None:
    from experiments.compare import main

    paper, concat = arms
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    common = ["--study", "s", "--runs-dir", str(runs_dir), "--out", str(out), "--dataset", "synthetic",
              "--budget", "proxy"]
    for override in study_overrides(shared_data):
        common += ["--set", override]
    assert main([str(paper), str(concat), "--seeds", "0", *common]) == 0

    assert main([str(concat), "--seeds", "1", *common]) == 0

    data = json.loads((out / "s.json").read_text())
    assert [(r["arm"], r["seed"]) for r in data["runs"]] == [("paper", 0), ("concat", 0), ("concat", 1)]
    assert data["baseline"] == "paper" and list(data["summary"]) == ["paper", "concat"]
    assert not (runs_dir / "s" / "paper" / "seed1").exists()
    archived = {arm: load_yaml(out / "runs" / "s" / arm / "config.yaml") for arm in ("paper", "concat")}
    assert archived["paper"]["experiment"]["seeds"] == [0] and archived["concat"]["experiment"]["seeds"] == [0, 1]
    for config in archived.values():
        assert not Path(config["experiment"]["output_dir"]).is_absolute()
        assert not Path(config["graphs"]["store"]).is_absolute()

    assert main([str(concat), str(paper), "--seeds", "0", "--report-only", *common]) == 0
    data = json.loads((out / "s.json").read_text())
    assert list(data["summary"]) == ["concat", "paper"] and data["baseline"] == "concat"
    assert len(data["runs"]) == 3

    assert main([str(concat), "--seeds", "0", "1", "--report-only", "--only-given", *common]) == 0
    data = json.loads((out / "s.json").read_text())
    assert {r["arm"] for r in data["runs"]} == {"concat"} and data["baseline"] == "concat"


def test_an_arm_whose_config_is_gone_leaves_the_report(arms, shared_data, tmp_path, capsys) -> None:
    from experiments.compare import main

    paper, concat = arms
    common = ["--study", "s", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--report-only"]
    run_study(arms, [0], tmp_path / "runs", "s", study_overrides(shared_data), QUIET)
    for override in study_overrides(shared_data):
        common += ["--set", override]
    assert main([str(paper), str(concat), "--seeds", "0", *common]) == 0
    concat.unlink()

    assert main([str(paper), "--seeds", "0", *common]) == 0

    assert "dropped from the report, their configs are gone: concat" in capsys.readouterr().out
    assert {r["arm"] for r in json.loads((tmp_path / "out" / "s.json").read_text())["runs"]} == {"paper"}


def test_plan_counts_what_is_left_at_the_logged_pace(arms, shared_data, tmp_path, capsys) -> None:
    runs_dir = tmp_path / "runs"
    overrides = [*study_overrides(shared_data), "train.epochs=2"]
    run_study(arms[:1], [0, 1], runs_dir, "s", overrides, QUIET)
    # seed 1 stopped after its first epoch: one logged epoch, no run.json
    seed1 = runs_dir / "s" / "paper" / "seed1" / "official"
    (seed1 / "run.json").unlink()
    lines = (seed1 / "log.csv").read_text().splitlines(keepends=True)
    (seed1 / "log.csv").write_text("".join(lines[:2]))
    logged = [float(r["epoch_seconds"]) + float(r["val_seconds"])
              for log in sorted(runs_dir.glob("s/paper/seed*/official/log.csv"))
              for r in csv.DictReader(log.open())]
    assert len(logged) == 3

    rows = {r["seed"]: r for r in study_plan(arms[:1], [0, 1, 2], runs_dir, "s", overrides)}

    assert (rows[0]["finished"], rows[0]["epochs_done"], rows[0]["epochs_left"]) == (1, 2, 0)
    assert (rows[1]["finished"], rows[1]["epochs_done"], rows[1]["epochs_left"]) == (0, 1, 1)
    assert (rows[2]["finished"], rows[2]["epochs_done"], rows[2]["epochs_left"]) == (0, 0, 2)
    assert rows[2]["minutes_left"] == pytest.approx(2 * np.mean(logged) / 60)
    assert rows[0]["minutes_left"] == 0 and rows[0]["folds"] == 1

    kfold = study_plan(arms[:1], [0], runs_dir, "k", [*overrides, "data.protocol={name: subject_kfold, folds: 4}"])
    assert kfold == [{"arm": "paper", "seed": 0, "amp": False, "folds": 4, "finished": 0, "epochs_done": 0,
                      "epochs_left": 8, "minutes_left": None}]

    from experiments.compare import main

    sets = [arg for override in overrides for arg in ("--set", override)]
    assert main([str(arms[0]), "--seeds", "0", "1", "2", "--study", "s", "--runs-dir", str(runs_dir),
                 "--out", str(tmp_path / "out"), "--plan", *sets]) == 0
    assert f"about {3 * np.mean(logged) / 60:.0f} minutes left\n" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_plan_warns_where_arms_left_in_bf16_meet_a_cpu_that_emulates_it() -> None:
    rows = [{"arm": "fast", "seed": 0, "amp": "bf16", "folds": 1, "finished": 1, "epochs_done": 3,
             "epochs_left": 0, "minutes_left": 0.0},
            {"arm": "slow", "seed": 0, "amp": "bf16", "folds": 1, "finished": 0, "epochs_done": 0,
             "epochs_left": 3, "minutes_left": 6.0},
            {"arm": "fp32", "seed": 0, "amp": False, "folds": 1, "finished": 0, "epochs_done": 0,
             "epochs_left": 3, "minutes_left": 6.0}]
    shown = []
    for native in (False, True):
        console = Console(record=True, width=200)
        print_plan(rows, console, native_bf16=native)
        shown.append(console.export_text())
    assert "about 12 minutes left" in shown[0]
    assert "slow: train.amp bf16, and this CPU has no native bf16" in shown[0]
    warning = shown[0].split("about 12 minutes left")[1]
    assert warning.strip().split(":")[0] == "slow"  # neither the finished arm nor the fp32 one
    assert "no native bf16" not in shown[1]
