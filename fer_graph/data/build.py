"""Build every graph of a dataset with Ray tasks into one HDF5 graph store.

Tasks decode images and build graphs for chunks of samples and return numpy arrays; this
(driver) process is the only one that writes files. Each finished chunk is saved as a shard
(``tmp`` + ``os.replace``, so a shard on disk is always complete) in a work folder next to the
output, named by a hash of everything that determines the result (samples, parameters, chunk
size, package version). A rerun after a crash (even ``kill -9``) reuses the finished shards and
builds only the rest (changed parameters, samples or builder source give a new folder).
The store is assembled from the shards in chunk order (samples sorted by
id, so the file does not depend on the worker count) into a temporary file that replaces the
output atomically: the output path is never a half-written file.

On a Ray cluster the workers get this package through a ``runtime_env`` and, where they
cannot read the dataset's files, the images' bytes with each task (``build_cluster``).

A build holds the store's file lock (``store_lock``) throughout, so concurrent builds of one
store run one after the other and the later one finds the store current. An existing store
gives every chunk whose images are unchanged (``freshness``); failed samples are retried.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import fer_graph
from fer_graph import granular
from fer_graph.data.build_cluster import SHIP_IMAGES
from fer_graph.data.build_ray import BuildRun, run_tasks
from fer_graph.data.build_summary import BuildSummary, current_summary, print_summary
from fer_graph.data.freshness import check_store, sample_fingerprints, seed_shards
from fer_graph.data.readers import DatasetIndex
from fer_graph.data.shards import Assembler, save_shard, shard_path
from fer_graph.data.store_lock import stderr_line, store_lock
from fer_graph.granular.graph import GBRParams

DEFAULT_CHUNK_SIZE = 512


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
    ship_images: str = "auto",
) -> BuildSummary:
    """Build (or finish building, or bring up to date) the graph store of a dataset.

    Args:
        index: the dataset (``readers.discover``).
        out_path: the HDF5 file to write; replaced atomically at the end.
        params: granular-ball parameters.
        num_workers: chunks built at once (default: the CPUs of the Ray runtime).
        address: an existing Ray cluster; None starts a local runtime (or uses the one
            already initialised in this process, which is then left running).
        progress: show a rich progress bar and summary table.
        chunk_size: samples per task and per shard (part of the resume key).
        feature_dtype: stored statistic dtype, ``float16`` or ``float32`` (lossless).
        compression: HDF5 filter for node/edge arrays (``lzf``, ``gzip`` or None).
        log: receives one-line messages (waiting for the lock, why samples are rebuilt).
        ship_images: on a cluster, whether the driver sends the image bytes with each task:
            ``auto`` where a node cannot read the dataset's paths, ``always``, or ``never``
            (a node without the files is then an error naming the path).
    """
    if ship_images not in SHIP_IMAGES:
        raise ValueError(f"ship_images must be one of {', '.join(SHIP_IMAGES)}, got {ship_images!r}")
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
            return current_summary(out_path, chunks, start)
        if check.stale or check.failed:
            log(check.stale or f"store {out_path}: {len(check.failed)} image(s) failed when it "
                f"was built (first: {check.failed[0]}), retrying them")
        key = build_key(index, params, chunk_size, feature_dtype, fingerprints)
        work_dir = out_path.parent / f".{out_path.name}.work-{key}"
        work_dir.mkdir(exist_ok=True)
        # Holding the lock proves that no live build owns the temporary files left here.
        for stale in work_dir.glob("*.tmp*"):
            stale.unlink()
        pending = [i for i in range(len(chunks)) if not shard_path(work_dir, i).exists()]
        to_build = seed_shards(out_path, chunks, pending, check.reusable,
                               lambda i, shard: save_shard(work_dir, i, shard))
        cpu_seconds = 0.0
        assembler = Assembler(index, chunks, work_dir, out_path, params, feature_dtype, compression,
                              fingerprints)
        try:
            assembler.advance()
            if to_build:
                run = BuildRun(index=index, chunks=chunks, work_dir=work_dir, params=params,
                               feature_dtype=feature_dtype, num_workers=num_workers, address=address,
                               progress=progress, ship_images=ship_images, log=log)
                cpu_seconds = run_tasks(run, to_build, assembler.advance)
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
