"""Per-epoch logs (CSV + TensorBoard) and the epoch progress bar of a training run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.progress import Progress, TextColumn

from fer_graph.data.progress import make_progress


class EpochLog:
    """Writes the epoch history to `log.csv` and scalars to TensorBoard under `tensorboard/`."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.csv_path = run_dir / "log.csv"
        self._writer = None
        if tensorboard:
            # Imported lazily: TensorBoard pulls in a large dependency tree.
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def write(self, history: Sequence[dict]) -> None:
        """Rewrite the CSV from the whole history (so a resumed run keeps one clean file)."""
        columns: list[str] = []
        for row in history:
            columns += [k for k in row if k not in columns]
        with open(self.csv_path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(history)
        if self._writer is not None and history:
            last = history[-1]
            for key, value in last.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    group, _, name = key.partition("_")
                    self._writer.add_scalar(f"{group}/{name}", value, last["epoch"])
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def epoch_progress(console: Console, enabled: bool) -> Progress:
    """The epoch bar: the task's running loss, accuracy and images/s between count and ETA."""
    stats = TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.3f}  {task.fields[ips]:.0f} img/s")
    return make_progress(console, enabled, stats, transient=True)
