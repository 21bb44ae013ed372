"""Results on disk and on screen: predictions CSV, metrics JSON, plots, aggregate and summary table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from fer_graph.training.metrics import classification_metrics, summarize
from fer_graph.training.plots import plot_confusion_matrix

HEADLINE = ("accuracy", "uf1", "uar")
# Graph-reliance figures in a run's "test" dict (graph models only, see training/reliance.py).
RELIANCE = ("graph_shuffle_accuracy", "graph_shuffle_changed", "weight_std")


def write_predictions(path: Path, ids: Sequence[str], labels, probabilities, class_names) -> None:
    """One row per sample: id, true label, predicted label, then one probability per class."""
    probabilities = np.asarray(probabilities)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "label", "predicted", *(f"prob_{c}" for c in class_names)])
        for sample_id, label, probs in zip(ids, labels, probabilities):
            writer.writerow([sample_id, int(label), int(probs.argmax()), *(f"{p:.6g}" for p in probs)])


def read_predictions(path: Path) -> dict:
    """Inverse of `write_predictions`: ids, labels, predicted and probabilities as arrays."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    body = rows[1:]
    return {
        "ids": [r[0] for r in body],
        "labels": np.array([int(r[1]) for r in body], dtype=np.int64),
        "predicted": np.array([int(r[2]) for r in body], dtype=np.int64),
        "probabilities": np.array([[float(x) for x in r[3:]] for r in body], dtype=np.float64),
    }


def write_split_outputs(run_dir: Path, split: str, ids, labels, probabilities, class_names) -> dict:
    """Predictions CSV, metrics JSON and confusion-matrix PNG of one split; returns the metrics."""
    if len(ids) != len(labels):
        raise ValueError(f"{split}: {len(ids)} ids but {len(labels)} predictions")
    predicted = np.asarray(probabilities).argmax(axis=1)
    metrics = classification_metrics(labels, predicted, class_names)
    write_predictions(run_dir / f"predictions_{split}.csv", ids, labels, probabilities, class_names)
    (run_dir / f"metrics_{split}.json").write_text(json.dumps(metrics, indent=2))
    plot_confusion_matrix(
        np.array(metrics["confusion_matrix"]), class_names, run_dir / f"confusion_{split}.png",
        title=f"{split}: acc {metrics['accuracy']:.3f}  UF1 {metrics['uf1']:.3f}  UAR {metrics['uar']:.3f}",
    )
    return metrics


def aggregate(runs: list[dict]) -> dict:
    """Mean and spread of the selected-epoch validation and the test metrics over all runs."""
    out = {}
    for metric in HEADLINE:
        out[f"test_{metric}"] = summarize([r["test"][metric] for r in runs])
        # a run restored from a study's JSON keeps only the validation accuracy
        if all(f"val_{metric}" in r["best_val"] for r in runs):
            out[f"val_{metric}"] = summarize([r["best_val"][f"val_{metric}"] for r in runs])
    for key in _reliance_keys(runs):
        out[f"test_{key}"] = summarize([r["test"][key] for r in runs])
    return out


def pooled_over_folds(out_dir: Path, runs: list[dict], class_names: Sequence[str]) -> dict | None:
    """Test metrics of each seed's folds scored together, then mean and spread over seeds.

    Under leave-one-subject-out a fold holds one subject's few clips, so per-fold UF1 and UAR
    are mostly undefined classes; micro-expression work (MEGC) scores the predictions of all
    folds as one set instead. Seeds whose folds are not all finished with a predictions file
    are left out (``seeds_left_out``). None for single-fold protocols.

    Args:
        out_dir: the experiment folder holding ``seed<s>/<fold>/predictions_test.csv``.
        runs: the finished runs (``seed`` and ``fold`` keys).
        class_names: the dataset's classes, in label order.
    """
    folds = sorted({r["fold"] for r in runs})
    if len(folds) < 2:
        return None
    per_seed, left_out = [], []
    for seed in sorted({r["seed"] for r in runs}):
        files = [Path(out_dir) / f"seed{seed}" / fold / "predictions_test.csv" for fold in folds]
        if not all(f.is_file() for f in files):
            left_out.append(seed)
            continue
        parts = [read_predictions(f) for f in files]
        labels = np.concatenate([p["labels"] for p in parts])
        metrics = classification_metrics(labels, np.concatenate([p["predicted"] for p in parts]), class_names)
        per_seed.append({"seed": seed, "folds": len(folds), "num_samples": int(len(labels)),
                         **{m: metrics[m] for m in HEADLINE}})
    if not per_seed:
        return None
    out = {"per_seed": per_seed, "seeds_left_out": left_out}
    out.update({f"test_{m}": summarize([s[m] for s in per_seed]) for m in HEADLINE})
    return out


def _reliance_keys(runs: list[dict]) -> list[str]:
    """The reliance figures every run has (none for image-only models)."""
    return [k for k in RELIANCE if runs and all(k in r["test"] for r in runs)]


def print_summary(console: Console, results: dict) -> None:
    """A table of every run plus mean and std rows."""
    table = Table(title=f"{results['name']}: test split, checkpoint selected on validation")
    reliance = _reliance_keys(results["runs"])
    titles = {"graph_shuffle_accuracy": "shuffled acc", "graph_shuffle_changed": "changed",
              "weight_std": "W std"}
    for column in ("run", "epoch", "val acc", "test acc", "UF1", "UAR", *(titles[k] for k in reliance), "min"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for run in results["runs"]:
        table.add_row(
            run["run"], str(run.get("best_epoch", "?")), f"{run['best_val']['val_accuracy']:.4f}",
            *(f"{run['test'][m]:.4f}" for m in (*HEADLINE, *reliance)), f"{run['train_minutes']:.1f}",
        )
    agg = results["aggregate"]
    keys = ("val_accuracy", *(f"test_{m}" for m in (*HEADLINE, *reliance)))
    table.add_section()
    # one run has no spread: a std row of zeros would read as a measured zero
    for stat in ("mean", "std") if len(results["runs"]) > 1 else ("mean",):
        table.add_row(stat, "", *(f"{agg[k][stat]:.4f}" for k in keys), "")
    console.print(table)
    pooled = results.get("pooled")
    if pooled:
        seeds = len(pooled["per_seed"])
        spread = (lambda m: f" ± {pooled[f'test_{m}']['std']:.4f}") if seeds > 1 else (lambda m: "")
        console.print(f"test, each seed's {pooled['per_seed'][0]['folds']} folds scored as one set "
                      f"({seeds} seed{'s' if seeds > 1 else ''}): "
                      + ", ".join(f"{name} {pooled[f'test_{m}']['mean']:.4f}{spread(m)}"
                                  for m, name in zip(HEADLINE, ("accuracy", "UF1", "UAR")))
                      + (f"; seeds left out, folds unfinished: {pooled['seeds_left_out']}"
                         if pooled["seeds_left_out"] else ""))
