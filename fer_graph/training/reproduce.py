"""Rerun one (config, seed) of a study from its committed files and set its numbers beside the recorded ones.

A study's JSON names each run's config file, the hash of its resolved config and its metrics.
A reproduction loads the same config, checks that it still hashes the same (else the code's
defaults or the file moved on, and the rerun would answer another question), trains it afresh
in a separate folder and compares every recorded metric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table

from fer_graph.errors import ConfigError
from fer_graph.models.devices import describe_machine
from fer_graph.training.experiment import experiment_dir, run_experiment
from fer_graph.training.provenance import REPO_ROOT, config_sha256
from fer_graph.training.study import arm_config, finished_runs
from fer_graph.training.study_report import PERCENT, TITLES, describe_segments, run_metrics, seeds_by_arm


def recorded_runs(study: dict, arm: str, seed: int, source: str = "the study JSON") -> list[dict]:
    """The rows of one (arm, seed), every fold of it.

    Raises:
        ConfigError: the JSON holds no such run (the message lists the pairs it holds).
    """
    rows = [row for row in study["runs"] if row["arm"] == arm and row["seed"] == seed]
    if not rows:
        raise ConfigError(f"{source} holds no run of arm {arm!r} with seed {seed} "
                          f"(it holds: {seeds_by_arm(study['runs'])})")
    return rows


def reproduction_config(study: dict, rows: list[dict], seed: int, runs_dir: str | Path,
                        overrides: Sequence[str] = ()) -> dict:
    """The recorded run's config, resolved as the study resolved it, placed under ``runs_dir``.

    Raises:
        ConfigError: the config file is gone, hashes otherwise than when the run was recorded,
            or a finished run already sits where the reproduction would train.
    """
    path = REPO_ROOT / rows[0]["config"]
    if not path.is_file():
        raise ConfigError(f"{rows[0]['config']}: the config of arm {rows[0]['arm']!r} is gone from the repository")
    config = arm_config(path, [seed], Path(runs_dir), study["study"], overrides)
    recorded, now = rows[0]["config_sha256"], config_sha256(config)
    if now != recorded:
        raise ConfigError(
            f"{rows[0]['config']} now resolves to config_sha256 {now}, the run was recorded with {recorded} "
            f"(code {rows[0]['commit']}): a default, the file or an override differs; pass the run's own "
            "--set overrides or check out that commit"
        )
    finished = next((experiment_dir(config) / f"seed{seed}").glob("*/run.json"), None)
    if finished is not None:
        raise ConfigError(f"{finished} already holds a finished run: a reproduction trains afresh, "
                          "so remove that folder or give another --runs-dir")
    return config


def compare_with_record(rows: list[dict], reruns: list[dict]) -> list[dict]:
    """Recorded against rerun, per fold and metric (and the epoch count), with the difference."""
    by_fold = {run["fold"]: run for run in reruns}
    lines = []
    for row in rows:
        fold = row.get("fold") or (reruns[0]["fold"] if len(reruns) == 1 else None)
        rerun = by_fold.get(fold)
        if rerun is None:
            raise ConfigError(f"the rerun has no fold {fold!r} (it has {', '.join(sorted(by_fold))})")
        again = {"epochs": rerun["epochs"], **run_metrics(rerun)}
        for name, value in {"epochs": row["epochs"], **row["metrics"]}.items():
            other = again.get(name)
            lines.append({"fold": fold, "metric": name, "recorded": value, "rerun": other,
                          "difference": None if other is None else other - value})
    return lines


def reproduce_run(study_json: str | Path, arm: str, seed: int, runs_dir: str | Path,
                  overrides: Sequence[str] = (), console: Console | None = None) -> list[dict]:
    """Train one recorded (arm, seed) again under ``runs_dir`` and compare it with the record.

    Returns:
        One line per fold and metric: recorded, rerun and difference (rerun - recorded).
    """
    console = console or Console()
    study = json.loads(Path(study_json).read_text())
    rows = recorded_runs(study, arm, seed, str(study_json))
    config = reproduction_config(study, rows, seed, runs_dir, overrides)
    run_experiment(config, console, train_seeds=[seed])
    reruns = finished_runs(config)
    console.print(machine_note(rows[0].get("machine"), reruns[0].get("machine"), rows[0].get("machines")))
    return compare_with_record(rows, reruns)


def machine_note(recorded: dict | None, rerun: dict, segments: list[dict] | None = None) -> str:
    """Where the record and the rerun were made: bits are expected to match on one CPU kind only."""
    if segments:
        return (f"rerun on {describe_machine(rerun)}; the record was {describe_segments(segments)}: "
                "a run resumed on another CPU kind reproduces bit for bit on none")
    if recorded is None:
        return f"rerun on {describe_machine(rerun)}; the record names no machine (made before runs recorded one)"
    same = all(recorded.get(key) == rerun.get(key) for key in ("cpu", "cpu_capability", "device", "torch"))
    return (f"recorded on {describe_machine(recorded)}, rerun on " + ("the same kind" if same else
            f"{describe_machine(rerun)}: across CPU kinds or torch versions numbers may differ in the last "
            "bits, and the difference grows over training"))


def print_comparison(lines: list[dict], console: Console) -> None:
    """The comparison as a terminal table, accuracies in percent."""
    table = Table(title="recorded against rerun (percentage points for accuracies)")
    for column in ("fold", "metric", "recorded", "rerun", "difference"):
        table.add_column(column, justify="left" if column in ("fold", "metric") else "right")
    for line in lines:
        metric = line["metric"]
        table.add_row(line["fold"], TITLES.get(metric, metric), _shown(line["recorded"], metric),
                      _shown(line["rerun"], metric), _shown(line["difference"], metric, signed=True))
    console.print(table)


def _shown(value, metric: str, signed: bool = False) -> str:
    if value is None:
        return "missing"
    if metric == "epochs":
        return f"{value:+d}" if signed else str(value)
    scale = 100.0 if metric in PERCENT else 1.0
    return f"{value * scale:{'+' if signed else ''}.4f}"
