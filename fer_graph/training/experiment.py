"""One experiment: dataset check -> graphs built or reused -> folds x seeds -> train -> select on val -> test once."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from rich.console import Console

from fer_graph.data.protocols import Fold
from fer_graph.data.readers import DatasetIndex
from fer_graph.data.store import GraphStore
from fer_graph.models.devices import machine_record
from fer_graph.training.checkpoint import seed_everything
from fer_graph.training.config import ConfigError
from fer_graph.training.config_files import dump_config
from fer_graph.training.loaders import make_loader
from fer_graph.training.plots import plot_training_curves
from fer_graph.training.prepare import prepare_data
from fer_graph.training.provenance import config_sha256, run_provenance
from fer_graph.training.reliance import shuffle_metrics, shuffled_graph_ids, weight_spread
from fer_graph.training.report import aggregate, pooled_over_folds, print_summary, write_split_outputs
from fer_graph.training.sampling import loss_class_weights
from fer_graph.training.trainer import EpochCallback, EvalResult, Trainer


def experiment_dir(config: dict) -> Path:
    """`<experiment.output_dir>/<experiment.name>`: where config, results and runs go."""
    return Path(config["experiment"]["output_dir"]) / config["experiment"]["name"]


def build_model_and_loss(
    config: dict, class_weights: torch.Tensor | None = None
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """`create_model(config["model"])` and `CSGBSBFLoss` of the `loss` section.

    `loss.target` is not the loss's: it decides what the training loader yields (make_loader).
    `loss.class_weights` names a rule; the weights it gives for a fold come in as ``class_weights``.
    """
    from fer_graph.models import CSGBSBFLoss, create_model

    try:
        model = create_model(config["model"])
    except KeyError as err:
        raise ConfigError(f"model: {err.args[0]}") from err
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"model: {err}") from err
    loss = {k: v for k, v in config["loss"].items() if k not in ("target", "class_weights")}
    return model, CSGBSBFLoss(**loss, class_weights=class_weights)


def build_trainer(
    config: dict, index: DatasetIndex, fold: Fold, seed: int, run_dir: Path, console: Console,
    device: torch.device | None = None,
) -> Trainer:
    """Seed, then the fold's model, loss (class weights from its training labels) and Trainer."""
    if config["train"]["num_threads"]:
        torch.set_num_threads(config["train"]["num_threads"])
    seed_everything(seed)
    label_of = {s.id: s.label for s in index.samples}
    weights = loss_class_weights(config, [label_of[i] for i in fold.train_ids])
    model, loss_fn = build_model_and_loss(config, weights)
    return Trainer(model, loss_fn, config, run_dir, index.class_names, console, device=device)


def fit_fold(
    config: dict,
    index: DatasetIndex,
    store: GraphStore | None,
    fold: Fold,
    seed: int,
    run_dir: Path,
    console: Console,
    on_epoch_end: EpochCallback | None = None,
) -> tuple[Trainer, object]:
    """Seed, build model and loaders, and train with validation-based selection (no test).

    With ``train.distributed`` the training runs data-parallel on Ray Train workers; the
    trainer returned is then this process's, with the model the selected checkpoint loads into.
    """
    if config["train"]["distributed"] is not None:
        # imported here: Ray Train loads only for the runs that use it
        from fer_graph.training.distributed import fit_distributed

        return fit_distributed(config, index, store, fold, seed, run_dir, console, on_epoch_end)
    return fit_replica(config, index, store, fold, seed, run_dir, console, on_epoch_end)


def fit_replica(
    config: dict,
    index: DatasetIndex,
    store: GraphStore | None,
    fold: Fold,
    seed: int,
    run_dir: Path,
    console: Console,
    on_epoch_end: EpochCallback | None = None,
    device: torch.device | None = None,
    shard: tuple[int, int] | None = None,
) -> tuple[Trainer, object]:
    """`fit_fold` in this process: the whole run, or replica ``shard`` = (rank, world) of one."""
    trainer = build_trainer(config, index, fold, seed, run_dir, console, device)
    if shard is not None:
        trainer.distribute(*shard)
    train_loader = make_loader(config, index, store, fold.train_ids, train=True, seed=seed, shard=shard)
    # only rank 0 validates; the others build no validation loader
    val_loader = make_loader(config, index, store, fold.val_ids, train=False, seed=seed) if trainer.chief else None
    return trainer, trainer.fit(train_loader, val_loader, on_epoch_end)


def measure_graph_reliance(
    trainer: Trainer,
    config: dict,
    index: DatasetIndex,
    store: GraphStore,
    ids: tuple[str, ...],
    seed: int,
    result: EvalResult,
) -> dict:
    """Graph-shuffle and W-spread figures of the selected model on a split already evaluated.

    A diagnostic pass (the model and the selection are fixed), not a second test result.
    """
    loader = make_loader(config, index, store, ids, train=False, seed=seed,
                         graph_ids=shuffled_graph_ids(ids))
    shuffled = trainer.evaluate(loader)
    figures = shuffle_metrics(result.labels, result.predicted, shuffled.predicted)
    if result.weights is not None:
        figures.update(weight_spread(result.weights))
    return figures


def train_and_test(
    config: dict,
    index: DatasetIndex,
    store: GraphStore | None,
    fold: Fold,
    seed: int,
    run_dir: Path,
    console: Console,
    on_epoch_end: EpochCallback | None = None,
) -> dict:
    """Train one fold with one seed, then evaluate the test split once on the selected checkpoint."""
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer, fit = fit_fold(config, index, store, fold, seed, run_dir, console, on_epoch_end)
    # from the epoch history, so that a resumed run counts the epochs trained before the stop
    minutes = sum(row["epoch_seconds"] + row.get("val_seconds", 0.0) for row in fit.history) / 60
    plot_training_curves(fit.history, run_dir / "curves.png")
    trainer.load_best(fit.best_path)
    test_loader = make_loader(config, index, store, fold.test_ids, train=False, seed=seed)
    # The only place the test split is ever evaluated: once, after selection on validation.
    result = trainer.evaluate(test_loader)
    test = write_split_outputs(run_dir, "test", list(fold.test_ids), result.labels, result.probabilities,
                               index.class_names)
    test = {k: test[k] for k in ("accuracy", "uf1", "uar", "num_samples")}
    if store is not None and config["train"]["graph_reliance"] and len(fold.test_ids) > 1:
        test.update(measure_graph_reliance(trainer, config, index, store, fold.test_ids, seed, result))
    run = {
        "run": f"{run_dir.parent.name}/{run_dir.name}",
        "seed": seed,
        "fold": fold.name,
        "best_epoch": fit.best_epoch,
        "best_val": fit.best_metrics,
        "test": test,
        "test_evaluations": 1,
        "train_minutes": minutes,
        "resumed_from_epoch": fit.resumed_from,
        "sizes": {"train": len(fold.train_ids), "val": len(fold.val_ids), "test": len(fold.test_ids)},
        **run_provenance(config),
        "machine": machine_record(trainer.device),
    }
    if len(fit.machines) > 1 or any(m["from_epoch"] != 1 for m in fit.machines):
        # trained on more than one machine (a resume elsewhere), or resumed from a checkpoint
        # that named none: bits then match no single CPU kind
        run["machines"] = fit.machines
    (run_dir / "run.json").write_text(json.dumps(run, indent=2))
    return run


def finished_run(run_dir: Path, config: dict) -> dict | None:
    """The run.json in `run_dir` when it was made by this config, None when there is none.

    Raises:
        ConfigError: the folder holds a finished run of another config (it is never overwritten).
    """
    path = run_dir / "run.json"
    if not path.is_file():
        return None
    run = json.loads(path.read_text())
    expected = config_sha256(config)
    if run.get("config_sha256") != expected:
        raise ConfigError(
            f"{path} holds a run of another config (config_sha256 {run.get('config_sha256')}, this "
            f"config {expected}): give this config another experiment.name or move that folder away"
        )
    return run


def run_experiment(
    config: dict,
    console: Console | None = None,
    on_epoch_end: EpochCallback | None = None,
    train_seeds: list[int] | None = None,
) -> dict:
    """Run every seed x fold of a resolved config and write `results.json` beside the config.

    A (seed, fold) whose folder already holds this config's run.json is read, not trained
    again; an interrupted one continues from its last epoch with `train.resume`.

    Args:
        train_seeds: train only these of `experiment.seeds` now (a study's outer loop); the
            results still hold every finished run of the config's seeds.

    Returns:
        The results dict: name, runs (per seed and fold), aggregate (mean/std over runs) and,
        for k-fold protocols, pooled (each seed's folds scored as one set).
    """
    console = console or Console()
    out = experiment_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    index, store, folds = prepare_data(config, console)
    runs = []
    for seed in config["experiment"]["seeds"]:
        for fold in folds:
            run_dir = out / f"seed{seed}" / fold.name
            done = finished_run(run_dir, config)
            if done is not None:
                console.print(f"seed {seed}, {fold.name}: finished earlier, read from {run_dir / 'run.json'}")
                runs.append(done)
                continue
            if train_seeds is not None and seed not in train_seeds:
                continue
            console.rule(f"seed {seed}, {fold.name}: {len(fold.train_ids)} train / "
                         f"{len(fold.val_ids)} val / {len(fold.test_ids)} test")
            runs.append(train_and_test(config, index, store, fold, seed, run_dir, console, on_epoch_end))
    results = {
        "name": config["experiment"]["name"],
        "class_names": index.class_names,
        "test_evaluations": sum(r["test_evaluations"] for r in runs),
        "missing_graphs": store.missing_graphs if store is not None else {},
        "runs": runs,
        "aggregate": aggregate(runs),
    }
    pooled = pooled_over_folds(out, runs, index.class_names)
    if pooled is not None:
        results["pooled"] = pooled
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print_summary(console, results)
    console.print(f"results: {out / 'results.json'}")
    return results
