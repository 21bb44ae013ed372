"""One HDF5 file per dataset holding every sample's granular-ball graph, compactly.

Layout (``FORMAT`` version 2); G graphs, N nodes and E edges in total::

    /                       attrs: format, format_version, fer_graph_version,
                            builder_fingerprint (hash of fer_graph.granular's source), params
                            (JSON GBRParams), feature_names (JSON), layout, root (resolved)
    /class_names   (C,)     str
    /graphs/ids    (G,)     str, in the order written (the builder sorts them by id)
    /graphs/labels (G,)     int16
    /graphs/splits (G,)     uint8 code into attr ``names`` (JSON list)
    /graphs/node_offsets (G+1,) int64  graph g owns nodes [off[g], off[g+1])
    /graphs/edge_offsets (G+1,) int64  graph g owns edges [off[g], off[g+1])
    /graphs/image_shape  (G, 2) uint16
    /nodes/boxes   (N, 4)   uint8 if images are resized to <= 256 px, else uint16
    /nodes/stats   (N, 4)   float16 (default) or float32: variance, mean, skewness, entropy
    /nodes/extrema (N, 2)   uint8: max, min (integer grey levels of the blurred uint8 image)
    /nodes/degree  (N,)     uint16: edges (i, j) with i = this node (edges are sorted, i < j)
    /edges/dst     (E,)     uint16 local j of each edge (uint32 if max_nodes >= 65536)
    /graphs/fingerprints (G,) str  content fingerprint of each sample's image when it was
                            built (``data.freshness``); absent in version 1 stores
    /failures/{ids,paths,reasons,fingerprints} (F,) str   samples that could not be built

Nodes are stored in ``graph_codec``'s compact form (geometry recomputed from the boxes on read,
float16 statistics). Node and edge arrays are chunked with shuffle + lzf compression by default.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import h5py
import numpy as np

import fer_graph
from fer_graph.data.graph_codec import NODE_ARRAYS, STATS, GraphArrays, box_dtype, decode, edge_dtype, encode
from fer_graph.granular import builder_fingerprint
from fer_graph.granular.graph import FEATURE_NAMES, BallGraph, GBRParams

FORMAT = "fer_graph.graph_store"
FORMAT_VERSION = 2
_STR = h5py.string_dtype("utf-8")
_CHUNK_ROWS = 1 << 12  # small chunks keep one random get() cheap under compression


class GraphStoreWriter:
    """Writes a graph store; used by one process only (HDF5 has a single writer).

    Example:
        with GraphStoreWriter(path, params, class_names) as w:
            w.append(["a.png"], [0], ["train"], GraphArrays.from_graphs([graph]))
    """

    def __init__(
        self,
        path: str | os.PathLike,
        params: GBRParams,
        class_names: Sequence[str],
        *,
        layout: str = "",
        root: str = "",
        feature_dtype: str = "float16",
        compression: str | None = "lzf",
        fingerprints: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.params = params
        self.fingerprints = fingerprints  # id -> fingerprint, for graphs and failures alike
        self.feature_dtype = feature_dtype
        self._file = h5py.File(self.path, "w")
        f = self._file
        f.attrs.update({
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "fer_graph_version": fer_graph.__version__,
            "builder_fingerprint": builder_fingerprint(),
            "params": json.dumps(params.to_dict(), sort_keys=True),
            "feature_names": json.dumps(list(FEATURE_NAMES)),
            "layout": layout, "root": str(root),
        })
        f.create_dataset("class_names", data=list(class_names), dtype=_STR)
        self._ids: list[str] = []
        self._labels: list[int] = []
        self._splits: list[str] = []
        self._node_offsets = [0]
        self._edge_offsets = [0]
        self._shapes: list[np.ndarray] = []
        self._failures: list[tuple[str, str, str]] = []
        columns = {"boxes": (4, box_dtype(params)), "stats": (len(STATS), np.dtype(feature_dtype)),
                   "extrema": (2, np.uint8), "degree": (None, np.uint16),
                   "dst": (None, edge_dtype(params))}
        self._data = {}
        for name, (width, dtype) in columns.items():
            tail = () if width is None else (width,)
            group = "edges" if name == "dst" else "nodes"
            self._data[name] = f.create_dataset(
                f"{group}/{name}", (0, *tail), dtype, maxshape=(None, *tail),
                chunks=(_CHUNK_ROWS, *tail), compression=compression,
                shuffle=compression is not None)

    def append(self, ids: Sequence[str], labels: Sequence[int], splits: Sequence[str],
               arrays: GraphArrays) -> None:
        """Append graphs (``arrays`` holds them concatenated, in the order of ``ids``)."""
        self.append_encoded(ids, labels, splits, encode(arrays, self.params, self.feature_dtype))

    def append_encoded(self, ids: Sequence[str], labels: Sequence[int], splits: Sequence[str],
                       encoded: dict) -> None:
        """Append graphs already in stored form (``encode`` output, e.g. from a worker)."""
        if not len(ids) == len(labels) == len(splits) == len(encoded["node_counts"]):
            raise ValueError("ids, labels, splits and graphs differ in length")
        self._ids.extend(ids)
        self._labels.extend(int(x) for x in labels)
        self._splits.extend(splits)
        for counts, offsets in ((encoded["node_counts"], self._node_offsets),
                                (encoded["edge_counts"], self._edge_offsets)):
            offsets.extend((offsets[-1] + np.cumsum(counts)).tolist())
        self._shapes.append(np.asarray(encoded["image_shapes"]).reshape(-1, 2))
        for name, dataset in self._data.items():
            rows = np.asarray(encoded[name])
            if rows.dtype != dataset.dtype:
                raise ValueError(f"{name} is {rows.dtype}, the store holds {dataset.dtype}")
            start = dataset.shape[0]
            dataset.resize(start + rows.shape[0], axis=0)
            if rows.shape[0]:
                dataset[start:] = rows

    def add_failures(self, records: Iterable[tuple[str, str, str]]) -> None:
        """Record samples that could not be built, as (id, path, reason)."""
        self._failures.extend(records)

    def close(self) -> None:
        """Write the per-graph tables and close the file."""
        if not self._file:
            return
        f = self._file
        split_names = sorted(set(self._splits))
        code = {name: i for i, name in enumerate(split_names)}
        f.create_dataset("graphs/ids", data=self._ids, dtype=_STR)
        f.create_dataset("graphs/labels", data=np.array(self._labels, dtype=np.int16))
        splits = f.create_dataset("graphs/splits",
                                  data=np.array([code[s] for s in self._splits], dtype=np.uint8))
        splits.attrs["names"] = json.dumps(split_names)
        f.create_dataset("graphs/node_offsets", data=np.array(self._node_offsets, dtype=np.int64))
        f.create_dataset("graphs/edge_offsets", data=np.array(self._edge_offsets, dtype=np.int64))
        shapes = np.concatenate(self._shapes) if self._shapes else np.zeros((0, 2))
        f.create_dataset("graphs/image_shape", data=shapes.astype(np.uint16))
        for column, name in enumerate(("ids", "paths", "reasons")):
            f.create_dataset(f"failures/{name}", data=[r[column] for r in self._failures], dtype=_STR)
        if self.fingerprints is not None:
            for group, ids in (("graphs", self._ids), ("failures", [r[0] for r in self._failures])):
                f.create_dataset(f"{group}/fingerprints", data=[self.fingerprints[i] for i in ids],
                                 dtype=_STR)
        f.close()

    def __enter__(self) -> "GraphStoreWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class GraphStore:
    """Read-only access to a graph store; ``get(id)`` is one dict lookup plus five slices.

    Safe to pickle (e.g. into DataLoader workers): the HDF5 handle is reopened lazily.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"graph store not found: {self.path}")
        self._file: h5py.File | None = None
        self._handles: dict[str, h5py.Dataset] | None = None
        self._memory: dict[str, np.ndarray] | None = None
        f = self._open()
        if f.attrs.get("format") != FORMAT:
            self.close()
            raise ValueError(f"not a fer_graph graph store: {self.path}")
        self.params = GBRParams.from_dict(json.loads(f.attrs["params"]))
        self.fer_graph_version = str(f.attrs["fer_graph_version"])
        # empty for files written before the fingerprint was recorded: never taken as current
        self.builder_fingerprint = str(f.attrs.get("builder_fingerprint", ""))
        self.layout = str(f.attrs["layout"])
        self.root = str(f.attrs["root"])
        self.feature_names = tuple(json.loads(f.attrs["feature_names"]))
        self.class_names = _strings(f["class_names"])
        self.ids = _strings(f["graphs/ids"])
        self.labels = f["graphs/labels"][()].astype(np.int64)
        split_names = json.loads(f["graphs/splits"].attrs["names"])
        self.splits = [split_names[c] for c in f["graphs/splits"][()]]
        self.node_offsets = f["graphs/node_offsets"][()]
        self.edge_offsets = f["graphs/edge_offsets"][()]
        self.image_shapes = f["graphs/image_shape"][()].astype(np.int64)
        self.feature_dtype = str(f["nodes/stats"].dtype)
        self.failures = list(zip(*(_strings(f[f"failures/{n}"]) for n in ("ids", "paths", "reasons"))))
        # per split, samples of the dataset in use left out for lack of a graph
        # (set by training.prepare.drop_failed, reported in results.json)
        self.missing_graphs: dict[str, int] = {}
        self._row = {sample_id: row for row, sample_id in enumerate(self.ids)}

    @cached_property
    def fingerprints(self) -> dict[str, str] | None:
        """id -> fingerprint of graphs and failures; None where the store predates them.

        Read on first use: only freshness checks need them, and a training store (with every
        DataLoader worker forked from it) would otherwise hold ~150 bytes per sample for nothing.
        """
        f = self._open()
        if "graphs/fingerprints" not in f:
            return None
        fingerprints = dict(zip(self.ids, _strings(f["graphs/fingerprints"])))
        fingerprints.update(zip((r[0] for r in self.failures), _strings(f["failures/fingerprints"])))
        return fingerprints

    def _open(self) -> h5py.File:
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._row

    def row(self, sample_id: str) -> int:
        """Position of a sample id; KeyError naming the id if it is not stored."""
        try:
            return self._row[sample_id]
        except KeyError:
            raise KeyError(f"sample id not in graph store {self.path}: {sample_id!r}") from None

    def get(self, sample_id: str) -> BallGraph:
        """The graph of one sample (int32 boxes/edges, float32 features)."""
        return self.graph(self.row(sample_id))

    def graph(self, row: int) -> BallGraph:
        """The graph at a position (0 <= row < len)."""
        n0, n1 = self.node_offsets[row], self.node_offsets[row + 1]
        e0, e1 = self.edge_offsets[row], self.edge_offsets[row + 1]
        src = self._memory if self._memory is not None else self._datasets()
        return decode(src["boxes"][n0:n1], src["stats"][n0:n1], src["extrema"][n0:n1],
                      src["degree"][n0:n1], src["dst"][e0:e1], tuple(self.image_shapes[row]))

    def encoded(self, rows: Sequence[int]) -> dict:
        """The stored form (``encode`` output) of the graphs at ascending ``rows``, one read per
        run of consecutive rows: a rebuild copies unchanged graphs with it."""
        rows = np.asarray(rows, dtype=np.int64)
        runs = [(r[0], r[-1] + 1) for r in np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)]
        out = {}
        for name, data in self._datasets().items():
            offsets = self.edge_offsets if name == "dst" else self.node_offsets
            out[name] = np.concatenate([data[offsets[a]:offsets[b]] for a, b in runs])
        out["node_counts"], out["edge_counts"] = np.diff(self.node_offsets)[rows], np.diff(self.edge_offsets)[rows]
        out["image_shapes"] = self.image_shapes[rows]
        return out

    def _datasets(self) -> dict:
        if self._handles is None:  # group lookups cost more than the slices: do them once
            f = self._open()
            self._handles = {name: f[f"nodes/{name}"] for name in NODE_ARRAYS} | {"dst": f["edges/dst"]}
        return self._handles

    def load_all(self) -> "GraphStore":
        """Read every node and edge array into memory (stored form, a fraction of float32
        features); later ``get`` calls never touch the file. Returns the store."""
        if self._memory is None:
            self._memory = {name: dataset[()] for name, dataset in self._datasets().items()}
        return self

    def bytes_per_graph(self) -> float:
        """File size divided by the number of graphs."""
        return self.path.stat().st_size / max(len(self), 1)

    def close(self) -> None:
        self._handles = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = state["_handles"] = None
        return state


def _strings(dataset: h5py.Dataset) -> list[str]:
    return list(dataset.asstr()[()]) if dataset.shape[0] else []
