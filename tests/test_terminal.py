"""The tools' console: a results table written to a log keeps every digit."""

from __future__ import annotations

import io
import sys

from rich.console import Console
from rich.table import Table

from fer_graph.terminal import LOG_WIDTH, make_console


def _wide_table() -> Table:
    table = Table()
    for name in ("run", "epoch", "val acc", "test acc", "UF1", "UAR", "shuffled acc", "changed", "W std", "min"):
        table.add_column(name)
    table.add_row("seed0/official", "4", *(f"0.61{i}3" for i in range(7)), "11.2")
    return table


def test_a_log_gets_room_for_a_wide_table_where_rich_alone_cuts_the_numbers(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    console = make_console()
    assert console.width == LOG_WIDTH
    console.print(_wide_table())
    text = sys.stdout.getvalue()
    assert all(f"0.61{i}3" in text for i in range(7)) and "shuffled acc" in text and "…" not in text

    narrow = io.StringIO()
    Console(file=narrow, width=80).print(_wide_table())
    assert "…" in narrow.getvalue()  # what the logs showed before


def test_stderr_console_writes_to_stderr(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    make_console(stderr=True).print("error: x")
    assert sys.stderr.getvalue() == "error: x\n"
