"""Ray tasks that build the graphs of a dataset's chunks; the driver saves each result as a shard.

Each task builds one chunk in a worker process that keeps its ``ChunkBuilder`` between tasks.
Tasks, unlike actors, hold no CPU between chunks, so a task lost with its process or node is
retried by Ray (``_RETRIES`` times) on whatever CPUs remain. Joining a cluster by address gives
the job the driver's package; on a runtime of several nodes every node is checked to run it,
and gets the images' bytes where it cannot read the dataset's paths (``build_cluster``).
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from fer_graph.data.build_cluster import (Shipped, check_identities, decide_shipping, package_runtime_env,
                                          probe_paths, ship, survey_nodes)
from fer_graph.data.progress import RateColumn, make_progress
from fer_graph.data.readers import DatasetIndex, ImageReadError, crop_box, load_image
from fer_graph.data.shards import save_shard
from fer_graph.data.graph_codec import GraphArrays, encode
from fer_graph.granular.graph import GBRParams

_RETRIES = 3
# Chunks submitted per worker CPU: the second waits in Ray's queue, so a worker starts its next
# chunk as soon as one ends instead of idling while the driver collects, saves and submits.
_QUEUED_PER_WORKER = 2
_BUILDERS: dict[tuple, "ChunkBuilder"] = {}  # per worker process, by parameters


class ChunkBuilder:
    """Builds the graphs of one chunk; runs inside a Ray worker (or directly, in tests)."""

    def __init__(self, params: dict) -> None:
        os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one task = one core
        from fer_graph.granular.build import build_graph

        self._build_graph = build_graph
        self._params = GBRParams.from_dict(params)

    def build(self, items: list[tuple[str, str, object]], feature_dtype: str) -> dict:
        """Build graphs for ``(id, location, payload)`` items.

        ``payload`` is None (decode the file at ``location``), a decoded image, a face box
        ``(x, y, width, height)`` to cut from the decoded file, the file's bytes as
        ``build_cluster.Shipped``, or a string reason why the sample has no image. Returns the
        ``graph_codec.encode`` arrays plus ``ids``, ``failures`` (id, path, reason) and the
        worker's ``cpu_seconds``.
        """
        start = time.process_time()
        ids, graphs, failures = [], [], []
        for sample_id, location, payload in items:
            try:
                if isinstance(payload, str):
                    raise ImageReadError(location, payload)
                if isinstance(payload, np.ndarray):
                    image = payload
                else:
                    data, box = (payload.data, payload.box) if isinstance(payload, Shipped) else (None, payload)
                    image = load_image(location, data)
                    image = image if box is None else crop_box(image, box, location)
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


def build_chunk(params: dict, items: list[tuple[str, str, object]], feature_dtype: str) -> dict:
    """``ChunkBuilder.build`` with this process's builder for ``params`` (the Ray task body)."""
    key = tuple(sorted(params.items()))
    if key not in _BUILDERS:
        _BUILDERS[key] = ChunkBuilder(params)
    return _BUILDERS[key].build(items, feature_dtype)


def chunk_items(index: DatasetIndex, chunk) -> list[tuple[str, str, object]]:
    """The ``(id, location, payload)`` items of a chunk, as ChunkBuilder.build takes them."""
    items = []
    for s in chunk:
        if s.id in index.errors:
            payload = index.errors[s.id]
        else:
            payload = index.memory.get(s.id, index.crops.get(s.id))
        items.append((s.id, index.location(s), payload))
    return items


@dataclass(frozen=True)
class BuildRun:
    """The settings of one run of tasks over the chunks still to build."""

    index: DatasetIndex
    chunks: list
    work_dir: Path
    params: GBRParams
    feature_dtype: str
    num_workers: int | None = None
    address: str | None = None
    progress: bool = True
    ship_images: str = "auto"
    log: Callable[[str], None] = print


def run_tasks(run: BuildRun, pending: list[int], on_shard: Callable[[], None]) -> float:
    """Build the pending chunks as Ray tasks, saving each as a shard; returns worker CPU s.

    At most ``num_workers`` chunks (default: the runtime's CPUs) are built at once, with as
    many again waiting.
    """
    import ray

    index, chunks, num_workers = run.index, run.chunks, run.num_workers
    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if run.address:
            # Ray uploads a local package only for a whole job, so it is given here, at connection.
            ray.init(address=run.address, runtime_env=package_runtime_env(), log_to_driver=False)
        else:
            # "local": a new instance of our own, never another process's Ray found on this machine
            ray.init(address="local", num_cpus=num_workers or os.cpu_count(), include_dashboard=False,
                     log_to_driver=False)
    try:
        workers = num_workers or max(int(ray.cluster_resources().get("CPU", 1)), 1)
        shipping = False
        # A runtime of several nodes may have workers that lack the driver's files or code.
        if run.address is not None or sum(n["Alive"] for n in ray.nodes()) > 1:
            reports = survey_nodes(probe_paths(index))
            check_identities(reports)
            shipping = decide_shipping(run.ship_images, reports, run.log)
        task = ray.remote(num_cpus=1, max_retries=_RETRIES, retry_exceptions=False)(build_chunk)
        params = run.params.to_dict()
        queue = deque(pending)
        inflight: dict = {}
        cpu_seconds = 0.0

        def submit() -> None:
            chunk_id = queue.popleft()
            items = chunk_items(index, chunks[chunk_id])
            inflight[task.remote(params, ship(items) if shipping else items, run.feature_dtype)] = chunk_id

        total = sum(len(c) for c in chunks)
        done_before = total - sum(len(chunks[i]) for i in pending)
        with make_progress(Console(stderr=True), run.progress, RateColumn()) as bar:
            progress_task = bar.add_task("building graphs", total=total, completed=done_before)
            while queue and len(inflight) < _QUEUED_PER_WORKER * workers:
                submit()
            while inflight:
                (ref,), _ = ray.wait(list(inflight), num_returns=1)
                chunk_id = inflight.pop(ref)
                if queue:
                    submit()
                shard = ray.get(ref)
                cpu_seconds += float(shard["cpu_seconds"])
                save_shard(run.work_dir, chunk_id, shard)
                on_shard()
                bar.advance(progress_task, len(chunks[chunk_id]))
        return cpu_seconds
    finally:
        if started:
            ray.shutdown()
