"""Does a graph store still belong to a dataset? Per-sample content fingerprints and the check.

A sample's fingerprint is ``<size>:<mtime_ns>`` of its image file: one ``stat`` per file, so
checking FER-2013 (35k files) or AffectNet (287k) before every run costs well under a second,
where hashing would read every byte (GBs for AffectNet) each time. Any write through the usual
tools moves ``mtime_ns``; what it misses is a same-size rewrite whose mtime was set back
(``touch -d``, ``cp -p`` of another file over it), and the store also records the resolved
dataset root, so another folder with the same names is never taken for this one. Samples kept
in memory (``fer_csv`` rows) have no file of their own: their fingerprint is a hash of the
decoded pixels (or of the reason they failed), cheap because they are already decoded, and
precise, so editing one row rebuilds that row only.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fer_graph.data.readers import DatasetIndex
from fer_graph.data.store import GraphStore
from fer_graph.granular import builder_fingerprint
from fer_graph.granular.graph import GBRParams


def sample_fingerprints(index: DatasetIndex) -> dict[str, str]:
    """id -> fingerprint of every sample of the index (``missing`` for a file that is gone)."""
    out = {}
    for s in index.samples:
        if s.id in index.memory:
            image = index.memory[s.id]
            digest = hashlib.blake2b(repr(image.shape).encode() + image.tobytes(), digest_size=12)
            out[s.id] = f"pixels:{digest.hexdigest()}"
        elif s.id in index.errors:
            out[s.id] = f"error:{hashlib.blake2b(index.errors[s.id].encode(), digest_size=12).hexdigest()}"
        else:
            try:
                st = os.stat(s.source)
            except OSError:
                out[s.id] = "missing"
            else:
                out[s.id] = f"{st.st_size}:{st.st_mtime_ns}"
                if s.id in index.crops:  # the same file cut to another face box is another image
                    out[s.id] += ":box" + ",".join(map(str, index.crops[s.id]))
    return out


@dataclass
class StoreCheck:
    """What an existing store can give a build of ``index``.

    Attributes:
        reusable: ids whose stored graph was built from the image as it is now.
        failed: ids that failed when the store was built, their image unchanged since.
        stale: why (some) samples must be built again, "" when none must; failures aside.
        exact: the store holds exactly the index's samples, with its labels and splits.
    """

    reusable: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)
    stale: str = ""
    exact: bool = False

    def failed_per_split(self, index: DatasetIndex) -> Counter:
        """Number of unchanged failures in each split of the index."""
        split = {s.id: s.split for s in index.samples}
        return Counter(split[i] for i in self.failed)


def check_store(path: str | os.PathLike, index: DatasetIndex, fingerprints: dict[str, str],
                params: GBRParams, feature_dtype: str | None = None) -> StoreCheck:
    """Compare the store at ``path`` with the dataset, sample by sample.

    Args:
        fingerprints: ``sample_fingerprints(index)``, taken before any image is read.
        feature_dtype: the statistic dtype wanted; None accepts the stored one.
    """
    path = Path(path)
    if not path.is_file():
        return StoreCheck(stale=f"no graph store at {path} yet")
    try:
        store = GraphStore(path)
    except (OSError, ValueError, KeyError) as exc:
        return StoreCheck(stale=f"store {path} cannot be read ({exc}), rebuilding it")
    with store:
        whole = _whole_store_reason(store, index, params, feature_dtype)
        if whole:
            return StoreCheck(stale=f"store {path} {whole}, rebuilding it")
        check, changed, new, relabelled = StoreCheck(), [], [], 0
        for s in index.samples:
            stored = store.fingerprints.get(s.id)
            if stored is None:
                new.append(s.id)
            elif stored != fingerprints[s.id]:
                changed.append(s.id)
            elif s.id not in store:
                check.failed.append(s.id)
            else:
                check.reusable.add(s.id)
                row = store.row(s.id)
                relabelled += int(store.labels[row]) != s.label or store.splits[row] != s.split
        parts = [f"{len(changed)} file(s) changed since it was built (first: {changed[0]})"] if changed else []
        parts += [f"{len(new)} sample(s) are not in it (first: {new[0]})"] if new else []
        parts += [f"{relabelled} sample(s) have another label or split now"] if relabelled else []
        check.stale = f"store {path}: {'; '.join(parts)}, rebuilding them" if parts else ""
        check.exact = not parts and len(store) + len(store.failures) == len(index)
    return check


def _whole_store_reason(store: GraphStore, index: DatasetIndex, params: GBRParams,
                        feature_dtype: str | None) -> str:
    """Why none of the store's graphs can be reused ("" when they can, sample by sample)."""
    if store.params != params:
        return "was built with other graph parameters"
    if store.builder_fingerprint != builder_fingerprint():
        return "was built by other graph-builder code"
    if feature_dtype is not None and store.feature_dtype != feature_dtype:
        return f"holds {store.feature_dtype} features, {feature_dtype} are wanted"
    if Path(store.root).resolve() != Path(index.root).resolve():
        return f"was built from {store.root}, not from {Path(index.root).resolve()}"
    if store.layout != index.layout:
        return f"was built from the {store.layout} layout, not {index.layout}"
    if store.fingerprints is None:
        return "records no image fingerprints (an older fer_graph wrote it)"
    return ""


def seed_shards(path: str | os.PathLike, chunks: list, pending: list[int], reusable: set[str],
                save: Callable[[int, dict], None]) -> list[int]:
    """Save as shards the pending chunks whose every sample is reusable from the store at
    ``path``; returns the chunks still to build. Failures and changed samples are rebuilt
    whole-chunk (a chunk is the unit of work and of resume)."""
    todo, ready = [], []
    for chunk_id in pending:
        (ready if all(s.id in reusable for s in chunks[chunk_id]) else todo).append(chunk_id)
    if ready:
        with GraphStore(path) as store:
            for chunk_id in ready:
                ids = [s.id for s in chunks[chunk_id]]
                shard = store.encoded([store.row(i) for i in ids])
                shard["ids"] = np.array(ids, dtype=str)
                shard["failures"] = np.zeros((0, 3), dtype=str)
                shard["cpu_seconds"] = np.float64(0.0)
                save(chunk_id, shard)
    return todo
