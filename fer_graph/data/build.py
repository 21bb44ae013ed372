"""Build every graph of a dataset with a pool of Ray actors into one HDF5 graph store.

Actors decode images and build graphs for chunks of samples and return numpy arrays; this
(driver) process is the only one that writes files. Each finished chunk is saved as a shard
(``tmp`` + ``os.replace``, so a shard on disk is always complete) in a work folder next to the
output, named by a hash of everything that determines the result (samples, parameters, chunk
size, package version). A rerun after a crash (even ``kill -9``) reuses the finished shards and
builds only the rest (changed parameters, samples or builder source give a new folder).
The store is assembled from the shards in chunk order (samples sorted by
id, so the file does not depend on the worker count) into a temporary file that replaces the
output atomically: the output path is never a half-written file.

A build holds the store's file lock (``store_lock``) throughout, so concurrent builds of one
store run one after the other and the later one finds the store current. An existing store
gives every chunk whose images are unchanged (``freshness``); failed samples are retried.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

import fer_graph
from fer_graph import granular
from fer_graph.data.freshness import check_store, sample_fingerprints, seed_shards
from fer_graph.data.progress import RateColumn, make_progress
from fer_graph.data.readers import DatasetIndex, ImageReadError, crop_box, load_image
from fer_graph.data.store import GraphArrays, GraphStore, GraphStoreWriter, encode
from fer_graph.data.store_lock import stderr_line, store_lock
from fer_graph.granular.graph import GBRParams

DEFAULT_CHUNK_SIZE = 512
_INFLIGHT_PER_WORKER = 2  # a queued chunk keeps each actor busy while the driver saves a shard


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


class ChunkBuilder:
    """Builds the graphs of one chunk; runs inside a Ray actor (or directly, in tests)."""

    def __init__(self, params: dict) -> None:
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one actor = one core
        from fer_graph.granular.build import build_graph

        self._build_graph = build_graph
        self._params = GBRParams.from_dict(params)

    def build(self, items: list[tuple[str, str, object]], feature_dtype: str) -> dict:
        """Build graphs for ``(id, location, payload)`` items.

        ``payload`` is None (decode the file at ``location``), a decoded image, a face box
        ``(x, y, width, height)`` to cut from the decoded file, or a string reason why the
        sample has no image. Returns the ``store.encode`` arrays plus
        ``ids``, ``failures`` (id, path, reason) and the worker's ``cpu_seconds``.
        """
        start = time.process_time()
        ids, graphs, failures = [], [], []
        for sample_id, location, payload in items:
            try:
                if isinstance(payload, str):
                    raise ImageReadError(location, payload)
                if payload is None or isinstance(payload, tuple):
                    image = load_image(location)
                    image = image if payload is None else crop_box(image, payload, location)
                else:
                    image = payload
                graph = self._build_graph(image, self._params)
            except ImageReadError as exc:
                failures.append((sample_id, location, exc.reason))
                continue
            except Exception as exc:  # a builder error on one image must not stop the dataset
                failures.append((sample_id, location, f"graph building failed: {type(exc).__name__}: {exc}"))
                continue
            ids.append(sample_id)
            graphs.append(graph)
        shard = encode(GraphArrays.from_graphs(graphs), self._params, feature_dtype)
        shard["ids"] = np.array(ids, dtype=str)
        shard["failures"] = np.array(failures, dtype=str).reshape(-1, 3)
        shard["cpu_seconds"] = np.float64(time.process_time() - start)
        return shard


def build_key(index: DatasetIndex, params: GBRParams, chunk_size: int, feature_dtype: str,
              fingerprints: dict[str, str] | None = None) -> str:
    """Hash of everything that determines the built file (not the worker count)."""
    digest = hashlib.sha256()
    header = {
        "version": fer_graph.__version__, "builder": granular.builder_fingerprint(),
        "params": params.to_dict(), "chunk": chunk_size, "dtype": feature_dtype,
        "layout": index.layout, "root": str(Path(index.root).resolve()),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    fingerprints = fingerprints or sample_fingerprints(index)  # in-memory CSV rows too
    for s in sorted(index.samples, key=lambda s: s.id):
        digest.update(f"\0{s.id}\t{s.label}\t{s.split}\t{s.source}\t{fingerprints[s.id]}".encode())
    return digest.hexdigest()[:16]


def build_graph_store(
    index: DatasetIndex,
    out_path: str | os.PathLike,
    params: GBRParams = GBRParams(),
    num_workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    feature_dtype: str = "float16",
    compression: str | None = "lzf",
    log: Callable[[str], None] = stderr_line,
) -> BuildSummary:
    """Build (or finish building, or bring up to date) the graph store of a dataset.

    Args:
        index: the dataset (``readers.discover``).
        out_path: the HDF5 file to write; replaced atomically at the end.
        params: granular-ball parameters.
        num_workers: Ray actors (default: the CPUs of the Ray runtime).
        address: an existing Ray cluster; None starts a local runtime (or uses the one
            already initialised in this process, which is then left running).
        progress: show a rich progress bar and summary table.
        chunk_size: samples per actor call and per shard (part of the resume key).
        feature_dtype: stored statistic dtype, ``float16`` or ``float32`` (lossless).
        compression: HDF5 filter for node/edge arrays (``lzf``, ``gzip`` or None).
        log: receives one-line messages (waiting for the lock, why samples are rebuilt).
    """
    start = time.perf_counter()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    samples = sorted(index.samples, key=lambda s: s.id)
    chunks = [samples[i:i + chunk_size] for i in range(0, len(samples), chunk_size)]
    with store_lock(out_path, log):
        # Taken before any image is read: a file changed during the build then looks
        # changed to the next one, never the other way round.
        fingerprints = sample_fingerprints(index)
        check = check_store(out_path, index, fingerprints, params, feature_dtype)
        if check.exact and not check.failed:
            log(f"store {out_path} is current ({len(samples)} graphs), nothing to build")
            return _current_summary(out_path, chunks, start)
        if check.stale or check.failed:
            log(check.stale or f"store {out_path}: {len(check.failed)} image(s) failed when it "
                f"was built (first: {check.failed[0]}), retrying them")
        key = build_key(index, params, chunk_size, feature_dtype, fingerprints)
        work_dir = out_path.parent / f".{out_path.name}.work-{key}"
        work_dir.mkdir(exist_ok=True)
        # Holding the lock proves that no live build owns the temporary files left here.
        for stale in work_dir.glob("*.tmp*"):
            stale.unlink()
        pending = [i for i in range(len(chunks)) if not _shard_path(work_dir, i).exists()]
        to_build = seed_shards(out_path, chunks, pending, check.reusable,
                               lambda i, shard: _save_shard(work_dir, i, shard))
        cpu_seconds = 0.0
        assembler = _Assembler(index, chunks, work_dir, out_path, params, feature_dtype, compression,
                               fingerprints)
        try:
            assembler.advance()
            if to_build:
                cpu_seconds = _run_actors(index, chunks, to_build, work_dir, params, num_workers,
                                          address, progress, feature_dtype, assembler.advance)
            summary = assembler.finish()
        except BaseException:
            assembler.discard()
            raise
        summary.chunks_reused = len(chunks) - len(to_build)
        summary.worker_cpu_seconds = cpu_seconds
        summary.seconds = time.perf_counter() - start
        # The output now matches these arguments: shards of this or any earlier argument set
        # for the same output are obsolete.
        for old in out_path.parent.glob(f".{out_path.name}.work-*"):
            shutil.rmtree(old, ignore_errors=True)
    if progress:
        print_summary(summary)
    return summary


def _current_summary(out_path: Path, chunks: list, start: float) -> BuildSummary:
    with GraphStore(out_path) as store:
        return _summary(out_path, np.diff(store.node_offsets), np.diff(store.edge_offsets),
                        store.failures, len(chunks), time.perf_counter() - start, len(chunks))


def _summary(out_path, nodes, edges, failures, chunks_total, seconds=0.0, reused=0,
             work_dir=Path()) -> BuildSummary:
    return BuildSummary(
        out_path=out_path, num_samples=int(nodes.size) + len(failures), num_built=int(nodes.size),
        failures=list(failures),
        nodes_mean=float(nodes.mean()) if nodes.size else 0.0, nodes_max=int(nodes.max(initial=0)),
        edges_mean=float(edges.mean()) if edges.size else 0.0, edges_max=int(edges.max(initial=0)),
        seconds=seconds, chunks_total=chunks_total, chunks_reused=reused, worker_cpu_seconds=0.0,
        file_bytes=out_path.stat().st_size, work_dir=work_dir,
    )


def _items(index: DatasetIndex, chunk) -> list[tuple[str, str, object]]:
    items = []
    for s in chunk:
        if s.id in index.errors:
            payload = index.errors[s.id]
        else:
            payload = index.memory.get(s.id, index.crops.get(s.id))
        items.append((s.id, index.location(s), payload))
    return items


def _run_actors(index, chunks, pending, work_dir, params, num_workers, address, progress,
                feature_dtype, on_shard) -> float:
    """Build the pending chunks on Ray actors, saving each as a shard; returns worker CPU s."""
    import ray

    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # "local": a new instance of our own, never another process's Ray found on this machine
            ray.init(address="local", num_cpus=num_workers or os.cpu_count(), include_dashboard=False,
                     log_to_driver=False)
    try:
        workers = num_workers or max(int(ray.cluster_resources().get("CPU", 1)), 1)
        actor_class = ray.remote(num_cpus=1)(ChunkBuilder)
        actors = [actor_class.remote(params.to_dict()) for _ in range(min(workers, len(pending)))]
        queue = deque(pending)
        inflight: dict = {}
        cpu_seconds = 0.0

        def submit(actor) -> None:
            if queue:
                chunk_id = queue.popleft()
                ref = actor.build.remote(_items(index, chunks[chunk_id]), feature_dtype)
                inflight[ref] = (chunk_id, actor)

        total = sum(len(c) for c in chunks)
        done_before = total - sum(len(chunks[i]) for i in pending)
        with make_progress(Console(stderr=True), progress, RateColumn()) as bar:
            task = bar.add_task("building graphs", total=total, completed=done_before)
            for actor in actors:
                for _ in range(_INFLIGHT_PER_WORKER):
                    submit(actor)
            while inflight:
                (ref,), _ = ray.wait(list(inflight), num_returns=1)
                chunk_id, actor = inflight.pop(ref)
                submit(actor)
                shard = ray.get(ref)
                cpu_seconds += float(shard["cpu_seconds"])
                _save_shard(work_dir, chunk_id, shard)
                on_shard()
                bar.advance(task, len(chunks[chunk_id]))
        for actor in actors:
            ray.kill(actor)
        return cpu_seconds
    finally:
        if started:
            ray.shutdown()


def _owner() -> str:
    """A temporary-file suffix unique to this build: pid (for people) and a random token
    (pids repeat across hosts sharing a disk, and after restarts)."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _shard_path(work_dir: Path, chunk_id: int) -> Path:
    return work_dir / f"chunk-{chunk_id:06d}.npz"


def _save_shard(work_dir: Path, chunk_id: int, shard: dict) -> None:
    final = _shard_path(work_dir, chunk_id)
    tmp = final.with_name(f"{final.name}.tmp-{_owner()}")
    with open(tmp, "wb") as handle:
        np.savez(handle, **shard)
    os.replace(tmp, final)


class _Assembler:
    """Writes shards into the output's temporary file in chunk order, as soon as they exist.

    Writing while the actors still build keeps the driver's HDF5 work off the critical
    path; the temporary file is only renamed to the output once every chunk is in.
    """

    def __init__(self, index, chunks, work_dir, out_path, params, feature_dtype, compression,
                 fingerprints):
        self.index, self.chunks, self.work_dir, self.out_path = index, chunks, work_dir, out_path
        self._by_id = {s.id: s for s in index.samples}
        for stale in out_path.parent.glob(f"{out_path.name}.partial*"):  # a killed run's (lock held)
            stale.unlink()
        self.partial = out_path.with_name(f"{out_path.name}.partial-{_owner()}")
        self.writer = GraphStoreWriter(self.partial, params, index.class_names, layout=index.layout,
                                       root=str(Path(index.root).resolve()),
                                       feature_dtype=feature_dtype, compression=compression,
                                       fingerprints=fingerprints)
        self.next = 0
        self.failures: list[tuple[str, str, str]] = []
        self.node_counts: list[np.ndarray] = []
        self.edge_counts: list[np.ndarray] = []

    def advance(self) -> None:
        """Append every consecutive finished shard after the last one written."""
        while self.next < len(self.chunks) and _shard_path(self.work_dir, self.next).exists():
            with np.load(_shard_path(self.work_dir, self.next), allow_pickle=False) as shard:
                encoded = {name: shard[name] for name in shard.files}
            ids = encoded["ids"].tolist()
            records = [tuple(r) for r in encoded["failures"].tolist()]
            self.writer.append_encoded(ids, [self._by_id[i].label for i in ids],
                                       [self._by_id[i].split for i in ids], encoded)
            self.writer.add_failures(records)
            self.failures.extend(records)
            self.node_counts.append(encoded["node_counts"])
            self.edge_counts.append(encoded["edge_counts"])
            self.next += 1

    def finish(self) -> BuildSummary:
        """Close the temporary file and move it over the output atomically."""
        self.advance()
        if self.next != len(self.chunks):
            raise RuntimeError(f"shard {self.next} of {len(self.chunks)} missing in {self.work_dir}")
        self.writer.close()
        os.replace(self.partial, self.out_path)
        nodes = np.concatenate(self.node_counts) if self.node_counts else np.zeros(0, np.int64)
        edges = np.concatenate(self.edge_counts) if self.edge_counts else np.zeros(0, np.int64)
        return _summary(self.out_path, nodes, edges, self.failures, len(self.chunks),
                        work_dir=self.work_dir)

    def discard(self) -> None:
        """Drop the temporary file (the shards stay for a rerun)."""
        self.writer.close()
        self.partial.unlink(missing_ok=True)


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
