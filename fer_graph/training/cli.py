"""What the command-line shells print and return when a run cannot go on."""

from __future__ import annotations

from rich.console import Console

from fer_graph.errors import ConfigError
from fer_graph.training.trainer import NonFiniteLossError

# Exit codes of experiments/run.py and experiments/compare.py: 0 done, 2 config error, 3 diverged.
STOPS = ((ConfigError, 2, "config error"), (NonFiniteLossError, 3, "training stopped"))
STOPPING_ERRORS = tuple(kind for kind, _, _ in STOPS)


def report_stop(err: Exception, console: Console) -> int:
    """One red line for a config error or a diverged run; returns the exit code."""
    for kind, code, title in STOPS:
        if isinstance(err, kind):
            console.print(f"{title}: {err}", style="bold red", markup=False, highlight=False, soft_wrap=True)
            return code
    raise err
