"""Shard files (one finished chunk each) and their assembly, in chunk order, into the HDF5 store."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from fer_graph.data.build_summary import BuildSummary, summarize
from fer_graph.data.store import GraphStoreWriter


def _owner() -> str:
    """A temporary-file suffix unique to this build: pid (for people) and a random token
    (pids repeat across hosts sharing a disk, and after restarts)."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def shard_path(work_dir: Path, chunk_id: int) -> Path:
    """Where chunk ``chunk_id``'s shard lives in a work folder."""
    return work_dir / f"chunk-{chunk_id:06d}.npz"


def save_shard(work_dir: Path, chunk_id: int, shard: dict) -> None:
    """Save one chunk's arrays; the shard path only ever names a complete file."""
    final = shard_path(work_dir, chunk_id)
    tmp = final.with_name(f"{final.name}.tmp-{_owner()}")
    with open(tmp, "wb") as handle:
        np.savez(handle, **shard)
    os.replace(tmp, final)


class Assembler:
    """Writes shards into the output's temporary file in chunk order, as soon as they exist.

    Writing while the tasks still build keeps the driver's HDF5 work off the critical
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
        while self.next < len(self.chunks) and shard_path(self.work_dir, self.next).exists():
            with np.load(shard_path(self.work_dir, self.next), allow_pickle=False) as shard:
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
        return summarize(self.out_path, nodes, edges, self.failures, len(self.chunks),
                         work_dir=self.work_dir)

    def discard(self) -> None:
        """Drop the temporary file (the shards stay for a rerun)."""
        self.writer.close()
        self.partial.unlink(missing_ok=True)
