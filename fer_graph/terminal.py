"""The console the command-line tools print through."""

from __future__ import annotations

import sys

from rich.console import Console

# Rich lays tables out at 80 columns when output goes to a file or pipe, which cuts every
# number of a wide results table to "0.60…" in a log; logs get room for the widest table.
LOG_WIDTH = 200


def make_console(stderr: bool = False) -> Console:
    """A rich Console at the terminal's width, or ``LOG_WIDTH`` columns when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else LOG_WIDTH)
