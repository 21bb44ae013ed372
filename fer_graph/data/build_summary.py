"""What a graph-store build did: BuildSummary, from the per-graph counts, and its rich table."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from fer_graph.data.store import GraphStore


@dataclass
class BuildSummary:
    """What a build did. ``failures`` holds (id, path, reason) of samples without a graph."""

    out_path: Path
    num_samples: int
    num_built: int
    failures: list[tuple[str, str, str]]
    nodes_mean: float
    nodes_max: int
    edges_mean: float
    edges_max: int
    seconds: float
    chunks_total: int
    chunks_reused: int
    worker_cpu_seconds: float
    file_bytes: int
    work_dir: Path = field(repr=False, default=Path())

    @property
    def bytes_per_graph(self) -> float:
        return self.file_bytes / max(self.num_built, 1)


def current_summary(out_path: Path, chunks: list, start: float) -> BuildSummary:
    """The summary of a store that was already current (nothing built)."""
    with GraphStore(out_path) as store:
        return summarize(out_path, np.diff(store.node_offsets), np.diff(store.edge_offsets),
                         store.failures, len(chunks), time.perf_counter() - start, len(chunks))


def summarize(out_path, nodes, edges, failures, chunks_total, seconds=0.0, reused=0,
              work_dir=Path()) -> BuildSummary:
    """A BuildSummary from the node and edge count of every built graph."""
    return BuildSummary(
        out_path=out_path, num_samples=int(nodes.size) + len(failures), num_built=int(nodes.size),
        failures=list(failures),
        nodes_mean=float(nodes.mean()) if nodes.size else 0.0, nodes_max=int(nodes.max(initial=0)),
        edges_mean=float(edges.mean()) if edges.size else 0.0, edges_max=int(edges.max(initial=0)),
        seconds=seconds, chunks_total=chunks_total, chunks_reused=reused, worker_cpu_seconds=0.0,
        file_bytes=out_path.stat().st_size, work_dir=work_dir,
    )


def print_summary(summary: BuildSummary, console: Console | None = None) -> None:
    """A rich table of what a build produced, failures listed below it."""
    console = console or Console(stderr=True)
    table = Table(title=f"graph store {summary.out_path}", show_header=False)
    rows = [
        ("images", f"{summary.num_samples:,}"),
        ("graphs built", f"{summary.num_built:,}"),
        ("failures", f"{len(summary.failures):,}"),
        ("nodes per graph (mean / max)", f"{summary.nodes_mean:.1f} / {summary.nodes_max}"),
        ("edges per graph (mean / max)", f"{summary.edges_mean:.1f} / {summary.edges_max}"),
        ("chunks (reused / total)", f"{summary.chunks_reused} / {summary.chunks_total}"),
        ("seconds", f"{summary.seconds:.1f}"),
        ("file size", f"{summary.file_bytes / 2**20:.1f} MiB ({summary.bytes_per_graph:,.0f} B/graph)"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for sample_id, path, reason in summary.failures[:20]:
        console.print(f"[red]failed[/red] {path}: {reason}", highlight=False)
    if len(summary.failures) > 20:
        console.print(f"... and {len(summary.failures) - 20} more failures (listed in the store)")
