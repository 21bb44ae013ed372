"""Ray actors that build the graphs of a dataset's chunks; the driver saves each result as a shard."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from fer_graph.data.progress import RateColumn, make_progress
from fer_graph.data.readers import DatasetIndex, ImageReadError, crop_box, load_image
from fer_graph.data.shards import save_shard
from fer_graph.data.graph_codec import GraphArrays, encode
from fer_graph.granular.graph import GBRParams

_INFLIGHT_PER_WORKER = 2  # a queued chunk keeps each actor busy while the driver saves a shard


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
        sample has no image. Returns the ``graph_codec.encode`` arrays plus
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
class ActorRun:
    """The settings of one run of actors over the chunks still to build."""

    index: DatasetIndex
    chunks: list
    work_dir: Path
    params: GBRParams
    feature_dtype: str
    num_workers: int | None = None
    address: str | None = None
    progress: bool = True


def run_actors(run: ActorRun, pending: list[int], on_shard: Callable[[], None]) -> float:
    """Build the pending chunks on Ray actors, saving each as a shard; returns worker CPU s."""
    import ray

    index, chunks, params, num_workers = run.index, run.chunks, run.params, run.num_workers

    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if run.address:
            ray.init(address=run.address, log_to_driver=False)
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
                ref = actor.build.remote(chunk_items(index, chunks[chunk_id]), run.feature_dtype)
                inflight[ref] = (chunk_id, actor)

        total = sum(len(c) for c in chunks)
        done_before = total - sum(len(chunks[i]) for i in pending)
        with make_progress(Console(stderr=True), run.progress, RateColumn()) as bar:
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
                save_shard(run.work_dir, chunk_id, shard)
                on_shard()
                bar.advance(task, len(chunks[chunk_id]))
        for actor in actors:
            ray.kill(actor)
        return cpu_seconds
    finally:
        if started:
            ray.shutdown()
