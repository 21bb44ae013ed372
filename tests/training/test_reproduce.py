"""Reproduction: a recorded (arm, seed) trained again from its committed config, compared with its record."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from fer_graph.training.reproduce import compare_with_record, print_comparison

from training_helpers import study_overrides


def _record(arms: list[Path], shared_data: dict[str, str], tmp_path: Path) -> tuple[Path, list[str]]:
    """A one-arm, one-seed study written by compare.py; its JSON and the --set arguments it ran with."""
    from experiments.compare import main as compare

    sets = [arg for override in study_overrides(shared_data) for arg in ("--set", override)]
    out = tmp_path / "out"
    assert compare([str(arms[0]), "--seeds", "0", "--study", "s", "--runs-dir", str(tmp_path / "runs"),
                    "--out", str(out), *sets]) == 0
    return out / "s.json", sets


def test_a_recorded_run_trained_again_gives_its_numbers(arms, shared_data, tmp_path, capsys) -> None:
    from experiments.reproduce import main as reproduce

    study_json, sets = _record(arms, shared_data, tmp_path)
    again = tmp_path / "again"

    assert reproduce([str(study_json), "--arm", "paper", "--seed", "0", "--runs-dir", str(again), *sets]) == 0

    rerun_dir = again / "s" / "paper" / "seed0" / "official"
    rerun = json.loads((rerun_dir / "run.json").read_text())
    recorded = json.loads(study_json.read_text())["runs"][0]
    assert (rerun_dir / "log.csv").is_file()  # trained, not copied from the study's folder
    assert rerun["test"]["accuracy"] == recorded["metrics"]["test_accuracy"]
    assert rerun["test"]["graph_shuffle_changed"] == recorded["metrics"]["graph_shuffle_changed"]
    assert rerun["machine"] == recorded["machine"]  # the same process made both
    shown = capsys.readouterr().out
    assert f"recorded on {recorded['machine']['cpu']}" in shown and "rerun on the same kind" in shown
    assert "paper seed 0 reproduces its recorded numbers" in shown

    assert reproduce([str(study_json), "--arm", "paper", "--seed", "0", "--runs-dir", str(again), *sets]) == 2
    assert "already holds a finished run" in capsys.readouterr().out

    assert reproduce([str(study_json), "--arm", "paper", "--seed", "5", "--runs-dir", str(tmp_path / "x"), *sets]) == 2
    assert "holds no run of arm 'paper' with seed 5 (it holds: paper seeds 0)" in capsys.readouterr().out

    assert reproduce([str(study_json), "--arm", "paper", "--seed", "0", "--runs-dir", str(tmp_path / "x")]) == 2
    assert "now resolves to config_sha256" in capsys.readouterr().out  # the study's overrides left out

    arms[0].write_text(arms[0].read_text() + "train: {lr: 0.01}\n")
    assert reproduce([str(study_json), "--arm", "paper", "--seed", "0", "--runs-dir", str(tmp_path / "x"), *sets]) == 2
    assert f"{recorded['config']} now resolves to config_sha256" in capsys.readouterr().out
    assert not (tmp_path / "x").exists()


def test_a_number_off_the_record_beyond_the_tolerance_fails(arms, shared_data, tmp_path, capsys) -> None:
    from experiments.reproduce import main as reproduce

    study_json, sets = _record(arms, shared_data, tmp_path)
    data = json.loads(study_json.read_text())
    data["runs"][0]["metrics"]["test_accuracy"] += 0.001  # 0.1 points: within a 0.5-point tolerance
    data["runs"][0]["metrics"]["val_accuracy"] -= 0.01  # 1 point: beyond it
    study_json.write_text(json.dumps(data))

    code = reproduce([str(study_json), "--arm", "paper", "--seed", "0", "--runs-dir", str(tmp_path / "again"),
                      "--tolerance", "0.5", *sets])

    assert code == 4
    assert "differs from the record: val_accuracy\n" in capsys.readouterr().out


def test_each_fold_is_compared_with_its_own_record_and_a_missing_metric_shows() -> None:
    rows = [{"arm": "a", "seed": 0, "fold": fold, "epochs": 3,
             "metrics": {"test_accuracy": acc, "graph_shuffle_changed": 0.1}} for fold, acc in (("f0", 0.5), ("f1", 0.7))]
    reruns = [{"fold": "f1", "epochs": 3, "best_val": {}, "test": {"accuracy": 0.75}},
              {"fold": "f0", "epochs": 4, "best_val": {}, "test": {"accuracy": 0.5, "graph_shuffle_changed": 0.1}}]

    lines = {(line["fold"], line["metric"]): line for line in compare_with_record(rows, reruns)}

    assert lines["f0", "epochs"]["difference"] == 1 and lines["f0", "test_accuracy"]["difference"] == 0
    assert abs(lines["f1", "test_accuracy"]["difference"] - 0.05) < 1e-12
    assert lines["f1", "graph_shuffle_changed"]["rerun"] is None and lines["f1", "graph_shuffle_changed"]["difference"] is None
    assert lines["f0", "graph_shuffle_changed"]["difference"] == 0.0
    assert len(lines) == 6
    console = Console(record=True, width=120)
    print_comparison(list(lines.values()), console)
    shown = console.export_text()
    assert "75.0000" in shown and "+5.0000" in shown and "missing" in shown and "+1 " in shown


def test_the_machine_note_says_when_record_and_rerun_ran_on_different_kinds() -> None:
    from fer_graph.training.reproduce import machine_note

    amx = {"cpu": "Intel Xeon", "cpu_capability": "AVX512", "device": "cpu", "threads": 2, "torch": "2.14.1"}
    zen = {**amx, "cpu": "AMD EPYC", "cpu_capability": "AVX2"}
    assert machine_note(amx, dict(amx)).endswith("rerun on the same kind")
    assert "rerun on AMD EPYC (AVX2, cpu, 2 threads, torch 2.14.1): across CPU kinds" in machine_note(amx, zen)
    assert "the record names no machine" in machine_note(None, zen)
    moved = [{"from_epoch": 1, **zen}, {"from_epoch": 5, **amx}]
    note = machine_note(amx, dict(amx), moved)
    assert "the record was trained from epoch 1 on AMD EPYC (AVX2" in note
    assert note.endswith("then from epoch 5 on Intel Xeon (AVX512, cpu, 2 threads, torch 2.14.1): a run resumed "
                         "on another CPU kind reproduces bit for bit on none")
