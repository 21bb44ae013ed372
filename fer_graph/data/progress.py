"""The rich progress bar of long loops (graph building, training epochs)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Images per second from rich's own speed estimate (rich's speed column formats bytes)."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} images/s" if task.speed else "- images/s", style="cyan")


def make_progress(console: Console, enabled: bool, *stats: ProgressColumn,
                  transient: bool = False) -> Progress:
    """Description, bar, done/total, the given ``stats`` columns, elapsed time and ETA.

    Args:
        console: where the bar is drawn.
        enabled: False gives a bar that draws nothing (for logs and tests).
        stats: columns between the count and the elapsed time (e.g. RateColumn()).
        transient: remove the bar when the loop ends.
    """
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *stats,
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, disable=not enabled, transient=transient)
