"""The shared progress bar: its columns draw the counts and stats; disabled, it draws nothing."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import TextColumn

from fer_graph.data.progress import RateColumn, make_progress


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, force_terminal=True, color_system=None), out


def test_bar_shows_description_count_stats_and_eta() -> None:
    console, out = _console()
    with make_progress(console, True, TextColumn("loss {task.fields[loss]:.2f}"), RateColumn()) as bar:
        task = bar.add_task("building graphs", total=8, loss=0.25)
        bar.advance(task, 3)
        bar.refresh()
    text = out.getvalue()
    for part in ("building graphs", "3/8", "loss 0.25", "images/s", "ETA"):
        assert part in text, part


def test_disabled_bar_draws_nothing() -> None:
    console, out = _console()
    with make_progress(console, False, RateColumn()) as bar:
        bar.advance(bar.add_task("epoch 1/2", total=4), 4)
    assert out.getvalue() == ""
