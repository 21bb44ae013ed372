"""A study: several experiment configs (arms) x seeds, run seed by seed, resumable, then compared.

Layout: `<runs_dir>/<study>/<arm>/seed<s>/<fold>/run.json`, the arm being the config file's
stem. A (config, seed) pair whose run.json exists with the same config hash is read, never
retrained; an interrupted pair resumes from its last epoch (`train.resume`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Sequence

from rich.console import Console

from fer_graph.data.protocols import planned_fold_count
from fer_graph.training.config import ConfigError, load_config
from fer_graph.training.config_files import dump_config, load_yaml
from fer_graph.training.experiment import experiment_dir, finished_run, run_experiment
from fer_graph.training.provenance import REPO_ROOT, portable
from fer_graph.training.study_report import METRICS


def arm_name(path: str | Path) -> str:
    """An arm is named after its config file: `studies/x/paper.yaml` -> `paper`."""
    return Path(path).stem


def arm_config(path: str | Path, seeds: Sequence[int], runs_dir: Path, study: str,
               overrides: Sequence[str] = ()) -> dict:
    """The resolved config of one arm, its output placed in the study folder.

    Data and graph store stay where the config alone puts them, so a study shares them with
    plain runs of its configs instead of building its own.
    """
    alone = load_config(path, overrides)
    placement = [
        f"data.root={alone['data']['root']}",
        f"graphs.store={alone['graphs']['store']}",
        f"experiment.name={arm_name(path)}",
        f"experiment.output_dir={Path(runs_dir) / study}",
        f"experiment.seeds=[{', '.join(str(s) for s in seeds)}]",
        "train.resume=true",
    ]
    return load_config(path, [*overrides, *placement])


def check_arms(paths: Sequence[str | Path], baseline: str | None) -> list[str]:
    """Arm names, checked to be distinct and to contain the baseline."""
    names = [arm_name(p) for p in paths]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"two configs give the same arm name {', '.join(repeated)}: rename one file")
    if baseline is not None and baseline not in names:
        raise ConfigError(f"--baseline {baseline!r} is not one of the arms: {', '.join(names)}")
    return names


def run_study(
    paths: Sequence[str | Path],
    seeds: Sequence[int],
    runs_dir: str | Path,
    study: str,
    overrides: Sequence[str] = (),
    console: Console | None = None,
    train: bool = True,
) -> dict[str, dict]:
    """Train what is missing, seeds in the outer loop (each finished seed compares every arm).

    Args:
        train: False only reads the finished runs (nothing is trained).

    Returns:
        Arm name -> {"config": repo-relative path, "runs": its finished run.json dicts}.
    """
    console = console or Console()
    names = check_arms(paths, None)
    configs = {n: arm_config(p, seeds, Path(runs_dir), study, overrides) for n, p in zip(names, paths)}
    if train:
        for seed in seeds:
            for name in names:
                console.rule(f"study {study}: seed {seed}, arm {name}")
                run_experiment(configs[name], console, train_seeds=[seed])
    return {name: {"config": _repo_relative(path), "runs": finished_runs(configs[name])}
            for name, path in zip(names, paths)}


def report_arms(paths: Sequence[str | Path], seeds: Sequence[int], report: str | Path,
                only_given: bool = False) -> tuple[dict[str, tuple[str, list[int]]], list[str], str | None]:
    """What a study report will hold: the given arms, and those of an earlier report at ``report``.

    An arm keeps the seeds the earlier report lists for it, the given arms adding ``seeds``, so
    running one arm's missing seed leaves every other run in the report.

    Args:
        only_given: ignore the earlier report (the given arms with ``seeds`` alone).

    Returns:
        Arm name -> (config path, seeds to read), in the earlier report's order, then the new arms;
        the earlier arms left out because their config file is gone; the earlier baseline. Where
        the command names every earlier arm, the order is the command's and the baseline None.
    """
    check_arms(paths, None)
    earlier: dict[str, tuple[str, list[int]]] = {}
    baseline = None
    if Path(report).is_file() and not only_given:
        data = json.loads(Path(report).read_text())
        baseline = data.get("baseline")
        for row in data["runs"]:
            config, known = earlier.setdefault(row["arm"], (str(REPO_ROOT / row["config"]), []))
            known.append(row["seed"])
    given = {arm_name(p): str(p) for p in paths}
    gone = [name for name, (config, _) in earlier.items() if name not in given and not Path(config).is_file()]
    if all(name in given or name in gone for name in earlier):
        baseline = None  # the command names the whole study: its order and first arm hold
        earlier = {name: earlier[name] for name in given if name in earlier}
    arms = {}
    for name in [*earlier, *given]:
        if name in gone or name in arms:
            continue
        config, known = earlier.get(name, (None, []))
        extra = seeds if name in given else []
        arms[name] = (given.get(name, config), sorted({*known, *extra}))
    return arms, gone, baseline


def finished_runs(config: dict) -> list[dict]:
    """Every finished run.json of a config's seeds, read from disk (no data or graphs needed)."""
    out = experiment_dir(config)
    runs = []
    for seed in config["experiment"]["seeds"]:
        for run_dir in sorted(p.parent for p in (out / f"seed{seed}").glob("*/run.json")):
            runs.append(finished_run(run_dir, config))
    return runs


def study_plan(paths: Sequence[str | Path], seeds: Sequence[int], runs_dir: str | Path, study: str,
               overrides: Sequence[str] = ()) -> list[dict]:
    """What is left of a study, per (arm, seed), read from its run folders (nothing is trained).

    Returns:
        One row per (arm, seed): ``arm``, ``seed``, ``amp`` (``train.amp``), ``folds``
        (expected; None where only the data can tell), ``finished`` (runs with this config's
        run.json), ``epochs_done`` and ``epochs_left`` (over its unfinished folds; None with
        unknown folds), and ``minutes_left``: epochs left at this arm's mean logged epoch time
        (training + validation; None before any epoch is logged).
    """
    rows = []
    for name, path in zip(check_arms(paths, None), paths):
        config = arm_config(path, seeds, Path(runs_dir), study, overrides)
        out, epochs = experiment_dir(config), config["train"]["epochs"]
        logged = {log.parent: _logged_epochs(log) for log in sorted(out.glob("seed*/*/log.csv"))}
        seconds = [s for epochs_seconds in logged.values() for s in epochs_seconds]
        pace = sum(seconds) / len(seconds) if seconds else None
        for seed in seeds:
            run_dirs = sorted(p for p in (out / f"seed{seed}").glob("*") if p.is_dir())
            folds = planned_fold_count(config["data"].get("protocol")) or len(run_dirs) or None
            finished = started = 0
            for run_dir in run_dirs:
                if finished_run(run_dir, config) is not None:
                    finished += 1
                else:
                    started += len(logged.get(run_dir, []))
            left = None if folds is None else (folds - finished) * epochs - started
            rows.append({"arm": name, "seed": seed, "amp": config["train"]["amp"], "folds": folds,
                         "finished": finished, "epochs_done": finished * epochs + started, "epochs_left": left,
                         "minutes_left": None if left is None or pace is None else left * pace / 60})
    return rows


def _logged_epochs(log_csv: Path) -> list[float]:
    """Seconds of each logged epoch, training plus validation."""
    with open(log_csv, newline="") as fh:
        return [float(row["epoch_seconds"]) + float(row.get("val_seconds") or 0) for row in csv.DictReader(fh)]


def _repo_relative(path: str | Path) -> str:
    return os.path.relpath(Path(path).resolve(), REPO_ROOT)


# What a finished run keeps in the repository: enough to read it back and recompute the tables,
# small enough to commit (no checkpoints, no TensorBoard events, no per-sample predictions).
ARCHIVED = ("run.json", "log.csv", "metrics_test.json")


def archive_runs(runs_dir: str | Path, study: str, archive: str | Path) -> int:
    """Copy every finished run's `ARCHIVED` files and each arm's config.yaml into `archive/<study>`.

    The archived config.yaml is the same wherever and for whichever seeds the study ran: paths
    relative to the repository, and the seeds are those archived for the arm.
    """
    source, target = Path(runs_dir) / study, Path(archive) / study
    count = 0
    for run_json in sorted(source.glob("*/seed*/*/run.json")):
        run_dir = run_json.parent
        dest = target / run_dir.relative_to(source)
        dest.mkdir(parents=True, exist_ok=True)
        for name in ARCHIVED:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, dest / name)
        count += 1
    for config_path in sorted(source.glob("*/config.yaml")):
        arm = config_path.parent.name
        seeds = sorted({int(p.parents[1].name.removeprefix("seed")) for p in (target / arm).glob("seed*/*/run.json")})
        if seeds:
            config = portable(load_yaml(config_path))
            config["experiment"]["seeds"] = seeds
            dump_config(config, target / arm / "config.yaml")
    return count


def restore_runs(archive: str | Path, runs_dir: str | Path, study: str) -> int:
    """Copy archived runs missing from `runs_dir` back, so a fresh clone does not retrain them."""
    source, target = Path(archive) / study, Path(runs_dir) / study
    count = 0
    for run_json in sorted(source.glob("*/seed*/*/run.json")):
        dest = target / run_json.parent.relative_to(source)
        if (dest / "run.json").is_file():
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for name in ARCHIVED:
            if (run_json.parent / name).is_file():
                shutil.copy2(run_json.parent / name, dest / name)
        count += 1
    return count


def restore_from_study_json(study_json_path: str | Path, runs_dir: str | Path) -> int:
    """Write a run.json for each run the study's JSON lists but no run folder holds.

    The last resort when the archived run folders are gone: the JSON keeps every run's provenance
    and study metrics, enough to skip retraining and to rebuild the tables. Each restored run.json
    says so under `restored_from` (its curves and per-class outputs are not recoverable).
    """
    path = Path(study_json_path)
    if not path.is_file():
        return 0
    data = json.loads(path.read_text())
    count = 0
    for row in data["runs"]:
        fold = row.get("fold", "official")
        run_dir = Path(runs_dir) / data["study"] / row["arm"] / f"seed{row['seed']}" / fold
        if (run_dir / "run.json").is_file():
            continue
        run = {"run": f"seed{row['seed']}/{fold}", "seed": row["seed"], "fold": fold,
               "best_val": {}, "test": {}, "test_evaluations": 1, "train_minutes": row["train_minutes"],
               "config_sha256": row["config_sha256"], "commit": row["commit"], "epochs": row["epochs"],
               "restored_from": _repo_relative(path)}
        for key in ("machine", "machines"):
            if key in row:
                run[key] = row[key]
        for name, value in row["metrics"].items():
            section, key = METRICS[name]
            run[section][key] = value
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(json.dumps(run, indent=2))
        count += 1
    return count
