"""Build the whole FER-2013 graph store with 1 and 2 Ray workers and print the figures.

    python benchmarks/bench_build_graphs.py [--root ../shared/datasets/fer2013] [--workers 1 2]

Wall time covers ``build_graph_store`` end to end: Ray start-up, actors, shards, HDF5 writing
and the atomic rename. CPU time is the driver's plus the workers' (reported by each actor), so
CPU/wall shows how much of the 2 cores the build actually got on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from fer_graph.data.build import build_graph_store  # noqa: E402
from fer_graph.data.readers import discover  # noqa: E402
from fer_graph.granular.graph import GBRParams  # noqa: E402

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "fer2013"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT.resolve())
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--compression", default="lzf", help="lzf, gzip or none")
    args = parser.parse_args()
    compression = None if args.compression == "none" else args.compression

    start = time.perf_counter()
    index = discover(args.root)
    print(f"dataset {args.root}: {len(index)} images, layout {index.layout}, "
          f"indexed in {time.perf_counter() - start:.2f} s")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    header = (f"{'workers':>7} {'wall s':>7} {'images/s':>9} {'speed-up':>8} {'MiB':>7} "
              f"{'B/graph':>8} {'CPU s':>7} {'CPU/wall':>8} {'nodes':>6} {'edges':>7}")
    print(header)
    first_wall = None
    with tempfile.TemporaryDirectory(prefix="bench_build_graphs_") as tmp:
        for workers in args.workers:
            out = Path(tmp) / f"fer2013_{workers}.h5"
            cpu0, wall0 = time.process_time(), time.perf_counter()
            summary = build_graph_store(index, out, GBRParams(), num_workers=workers,
                                        progress=False, compression=compression)
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0 + summary.worker_cpu_seconds
            first_wall = first_wall or wall
            print(f"{workers:>7} {wall:>7.1f} {summary.num_built / wall:>9.0f} "
                  f"{first_wall / wall:>8.2f} {summary.file_bytes / 2**20:>7.1f} "
                  f"{summary.bytes_per_graph:>8.0f} {cpu:>7.1f} {cpu / wall:>8.2f} "
                  f"{summary.nodes_mean:>6.1f} {summary.edges_mean:>7.1f}", flush=True)
            if summary.failures:
                print(f"        {len(summary.failures)} failures, e.g. {summary.failures[0]}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
