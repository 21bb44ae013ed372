"""Ray Tune search over dotted config keys; trials train on the validation split only.

Each trial is one `fit_fold` run (first fold, first seed) reporting validation metrics every
epoch with its `last.pt` and its logs as a Tune checkpoint in `search.storage_path`, so an
interrupted search (even a killed driver) resumes its trials, on any node, from their last epoch;
the logs end up in `<experiment>/search/trials/<trial>/`.
The test split is never evaluated here: the best config is written as a runnable YAML and the
final number comes from running that YAML.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fer_graph.training.config import resolve_experiment_config
from fer_graph.training.config_files import dump_config, set_dotted
from fer_graph.training.experiment import experiment_dir, fit_fold
from fer_graph.training.prepare import prepare_data


def _domain(spec: dict):
    from ray import tune

    if spec["type"] == "choice":
        return tune.choice(spec["values"])
    return {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}[spec["type"]](
        spec["low"], spec["high"]
    )


def apply_params(config: dict, params: dict) -> dict:
    """A copy of `config` with the sampled dotted-key values set, validated again."""
    out = copy.deepcopy(config)
    for key, value in params.items():
        set_dotted(out, key, value)
    return resolve_experiment_config(out)


def _trial(params: dict, base: dict) -> None:
    """Tune function trainable: train one run, reporting validation metrics each epoch."""
    config = apply_params(base, params)
    config["train"]["progress"] = False
    # Outside the trial folder: Tune syncs that folder while the trainer writes checkpoints.
    # Tune's own checkpoints (reported below) are what a resumed trial starts from.
    with tempfile.TemporaryDirectory(prefix="fer_graph_trial_") as folder:
        _train_trial(config, Path(folder))


# What a trial's run folder keeps besides checkpoints, carried in every Tune checkpoint.
TRIAL_LOGS = ("log.csv", "tensorboard")


def copy_logs(source: Path, target: Path) -> None:
    """Copy the `TRIAL_LOGS` that exist in `source` into `target` (merged into what is there)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in TRIAL_LOGS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        elif (source / name).is_file():
            shutil.copy2(source / name, target / name)


def _train_trial(config: dict, run_dir: Path) -> None:
    from ray import tune

    previous = tune.get_checkpoint()
    if previous is not None:
        with previous.as_directory() as folder:
            (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(folder) / "last.pt", run_dir / "checkpoints" / "last.pt")
            copy_logs(Path(folder) / "logs", run_dir)
        config["train"]["resume"] = True
    console = Console(quiet=True)
    index, store, folds = prepare_data(config, console)

    def report(row: dict, ckpt_dir: Path) -> None:
        metrics = {k: v for k, v in row.items() if not k.startswith("test")}
        with tempfile.TemporaryDirectory() as folder:
            shutil.copy(ckpt_dir / "last.pt", Path(folder) / "last.pt")
            copy_logs(run_dir, Path(folder) / "logs")
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    fit_fold(config, index, store, folds[0], config["experiment"]["seeds"][0], run_dir, console, report)


def run_search(config: dict, console: Console | None = None, address: str | None = None) -> dict:
    """Launch the `search:` section with Ray Tune; writes `best_config.yaml` and `search_results.json`.

    Returns:
        {"best_params", "best_metric", "best_config_path", "trials"}.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    console = console or Console()
    search = config["search"]
    out = experiment_dir(config) / "search"
    out.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in config.items() if k != "search"}
    # Every epoch must carry the metric ASHA compares, so trials validate every epoch.
    base["train"] = {**base["train"], "eval_every": 1}
    dump_config(config, out / "config.yaml")
    # Data and graphs are made once here; trials only read them.
    prepare_data(base, console)
    if not ray.is_initialized():
        # without an address, a new local instance, never another process's Ray found on this machine
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False)
    resources = {"cpu": search["cpus_per_trial"]}
    if ray.cluster_resources().get("GPU", 0) >= 1:
        resources["gpu"] = search["gpus_per_trial"]
    else:
        console.print("[yellow]no GPU in the Ray cluster: trials run on CPU only")
        base["train"]["device"] = "cpu"
    trainable = tune.with_resources(tune.with_parameters(_trial, base=base), resources)
    scheduler = None
    if search["scheduler"]["type"] == "asha":
        sched = search["scheduler"]
        scheduler = ASHAScheduler(
            time_attr="training_iteration", max_t=sched["max_t"] or base["train"]["epochs"],
            grace_period=sched["grace_period"], reduction_factor=sched["reduction_factor"],
        )
    storage = storage_path(search["storage_path"], out)
    experiment_path = f"{storage.rstrip('/')}/{search['name']}"
    if base["train"]["resume"] and tune.Tuner.can_restore(experiment_path):
        console.print(f"resuming the search in {experiment_path}")
        tuner = tune.Tuner.restore(experiment_path, trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={key: _domain(spec) for key, spec in search["space"].items()},
            tune_config=tune.TuneConfig(
                metric=search["metric"], mode=search["mode"], num_samples=search["num_samples"],
                scheduler=scheduler, max_concurrent_trials=search["max_concurrent_trials"],
            ),
            run_config=tune.RunConfig(
                name=search["name"], storage_path=storage, verbose=0,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
    grid = tuner.fit()
    keep_trial_logs(grid, out / "trials")
    return _write_outcome(grid, base, search, out, console)


def storage_path(setting: str | None, default: Path) -> str:
    """Tune's storage as the driver resolves it: a URI as given, a folder made absolute here.

    Resolved on the driver so that every node, whatever its working directory, writes to the
    same place (on a cluster that folder must be shared, e.g. NFS, or be a URI).
    """
    if setting is None:
        return str(default.resolve())
    if "://" in setting:
        return setting
    return str(Path(setting).expanduser().resolve())


def keep_trial_logs(grid, target: Path) -> int:
    """Copy each trial's logs from its latest checkpoint (local or remote storage) to `target/<trial>`."""
    count = 0
    for result in grid:
        if result.checkpoint is None:
            continue
        with result.checkpoint.as_directory() as folder:
            if (Path(folder) / "logs").is_dir():
                copy_logs(Path(folder) / "logs", target / Path(result.path).name)
                count += 1
    return count


def _write_outcome(grid, base: dict, search: dict, out: Path, console: Console) -> dict:
    metric, mode = search["metric"], search["mode"]
    errors = [r.error for r in grid if r.error is not None]
    if len(errors) == len(grid):
        raise RuntimeError(f"every search trial failed; first error: {errors[0]}")
    best = grid.get_best_result(metric=metric, mode=mode, scope="all")
    trials = []
    for result in grid:
        if result.error is not None or result.metrics_dataframe is None:
            continue
        series = result.metrics_dataframe[metric]
        trials.append({
            "params": {k: result.config[k] for k in search["space"]},
            f"best_{metric}": float(series.max() if mode == "max" else series.min()),
            "epochs": int(len(series)),
        })
    trials.sort(key=lambda t: t[f"best_{metric}"], reverse=mode == "max")
    best_params = {k: best.config[k] for k in search["space"]}
    best_config = apply_params(base, best_params)
    best_config["experiment"]["name"] = f"{base['experiment']['name']}_best"
    best_config["train"]["resume"] = False
    path = out / "best_config.yaml"
    dump_config(best_config, path)
    outcome = {
        "best_params": best_params, "best_metric": trials[0][f"best_{metric}"] if trials else None,
        "metric": metric, "best_config_path": str(path), "trials": trials, "failed_trials": len(errors),
    }
    (out / "search_results.json").write_text(json.dumps(outcome, indent=2))
    table = Table(title=f"search: {metric} ({mode}), validation split only")
    for column in (*search["space"], metric, "epochs"):
        table.add_column(column)
    for trial in trials:
        table.add_row(*(f"{trial['params'][k]:.4g}" if isinstance(trial["params"][k], float)
                        else str(trial["params"][k]) for k in search["space"]),
                      f"{trial[f'best_{metric}']:.4f}", str(trial["epochs"]))
    console.print(table)
    console.print(f"best config: {path}  (run it to evaluate the test split once)")
    return outcome
