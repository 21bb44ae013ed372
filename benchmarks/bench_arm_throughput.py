"""Idle training throughput of experiment configs, turned into equal-time epoch counts.

For each config: train `--steps` real steps (the config's data, loader, model, AMP and
threads) and validate once, `--epochs` times, then print images/s, the implied seconds per epoch (training
plus validation) and the whole number of epochs that fits `--budget-minutes`. Run it on an
idle machine, once, and write the epoch counts into the study configs, so that the arms of a
study get equal training time while their accuracy never depends on machine load. On a small
dataset (CK+48: about 25 steps per epoch) one epoch is mostly warm-up, so pass `--epochs 5`:
the figures are then medians over the epochs after the first.

    HF_HUB_OFFLINE=1 python benchmarks/bench_arm_throughput.py CONFIG... [--steps 100] [--epochs 1] [--budget-minutes 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fer_graph.training.config import load_config
from fer_graph.training.experiment import fit_fold
from fer_graph.training.prepare import prepare_data


def measure(path: str, steps: int, epochs: int, scratch: Path, console: Console) -> dict:
    """Train `epochs` epochs of at most `steps` steps, validating after each; returns timing figures.

    With more than one epoch the first (warm-up) is dropped and the median of the rest is
    returned. Checkpoints go to `scratch`; graphs come from (or are built into) the config's
    own store.
    """
    overrides = [f"train.epochs={epochs}", "train.warmup_epochs=0", f"train.max_steps_per_epoch={steps}",
                 "train.progress=false", "train.resume=false"]
    config = load_config(path, overrides)
    index, store, folds = prepare_data(config, console)
    fold = folds[0]
    _, fit = fit_fold(config, index, store, fold, 0, scratch / Path(path).stem, console)
    rows = fit.history[1:] if len(fit.history) > 1 else fit.history
    images_per_s = statistics.median(row["images_per_s"] for row in rows)
    val_seconds = statistics.median(row["val_seconds"] for row in rows)
    epoch_seconds = len(fold.train_ids) / images_per_s + val_seconds
    return {"images_per_s": images_per_s, "val_seconds": val_seconds, "epoch_seconds": epoch_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs to train; above 1 the figures are medians over epochs 2..N")
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"{args.epochs} x ({args.steps} training steps + one validation) per config; "
                        f"epochs for {args.budget_minutes:g} min")
    for column in ("config", "train img/s", "val s", "s / epoch", "epochs", "minutes"):
        table.add_column(column, justify="left" if column == "config" else "right")
    with tempfile.TemporaryDirectory() as scratch:
        for path in args.configs:
            figures = measure(path, args.steps, args.epochs, Path(scratch), console)
            epochs = max(1, round(args.budget_minutes * 60 / figures["epoch_seconds"]))
            table.add_row(Path(path).stem, f"{figures['images_per_s']:.1f}", f"{figures['val_seconds']:.1f}",
                          f"{figures['epoch_seconds']:.1f}", str(epochs),
                          f"{epochs * figures['epoch_seconds'] / 60:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
