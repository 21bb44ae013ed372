"""One HDF5 file per dataset holding every sample's granular-ball graph.

Layout (``FORMAT`` version 1); G graphs, N nodes and E edges in total::

    /                       attrs: format, format_version, fer_graph_version, params (JSON
                            GBRParams), feature_names (JSON), layout, root
    /class_names   (C,)     str
    /graphs/ids    (G,)     str, sorted as written (the builder writes them sorted by id)
    /graphs/labels (G,)     int16
    /graphs/splits (G,)     uint8 code into attr ``names`` (JSON list)
    /graphs/node_offsets (G+1,) int64  graph g owns nodes [off[g], off[g+1])
    /graphs/edge_offsets (G+1,) int64  graph g owns edges [off[g], off[g+1])
    /graphs/image_shape  (G, 2) uint16
    /nodes/boxes    (N, 4)  uint8 if every image side <= 256, else uint16
    /nodes/features (N, 12) float16 (default) or float32
    /edges/index    (E, 2)  uint16 node ids local to their graph (uint32 if max_nodes >= 65536)
    /failures/{ids,paths,reasons} (F,) str   samples that could not be built

float16 rounding (the only loss): values keep 11 significant bits (relative error <= 2^-11,
about 4.9e-4); integers up to 2048 and half-integers up to 1024 (all pixel geometry of images
up to 1024 px) are exact. Node and edge arrays are chunked with shuffle + lzf compression.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

import fer_graph
from fer_graph.granular.graph import FEATURE_NAMES, NUM_FEATURES, BallGraph, GBRParams

FORMAT = "fer_graph.graph_store"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")
_CHUNK_ROWS = 1 << 14


def box_dtype(params: GBRParams) -> np.dtype:
    """Smallest box dtype for the images GBR sees: uint8 when resized to <= 256 px."""
    small = params.image_size is not None and params.image_size <= 256
    return np.dtype(np.uint8 if small else np.uint16)


def edge_dtype(params: GBRParams) -> np.dtype:
    """Local node ids fit uint16 while a graph has fewer than 65536 nodes (GDS caps it)."""
    return np.dtype(np.uint16 if params.max_nodes < 65536 else np.uint32)


def cast_features(features: np.ndarray, dtype: str | np.dtype) -> np.ndarray:
    """Features in the stored dtype; ValueError where float16 would overflow to inf."""
    dtype = np.dtype(dtype)
    if dtype == np.float16 and features.size and np.abs(features).max() > np.finfo(np.float16).max:
        raise ValueError("node features exceed the float16 range; store them as float32")
    return features.astype(dtype, copy=False)


@dataclass
class GraphArrays:
    """Many graphs as concatenated arrays (node/edge offsets per graph), in stored dtypes."""

    node_counts: np.ndarray
    edge_counts: np.ndarray
    boxes: np.ndarray
    features: np.ndarray
    edges: np.ndarray
    image_shapes: np.ndarray

    @classmethod
    def from_graphs(cls, graphs: Sequence[BallGraph]) -> "GraphArrays":
        """Concatenate graphs (dtypes left as built)."""
        return cls(
            node_counts=np.array([g.num_nodes for g in graphs], dtype=np.int64),
            edge_counts=np.array([g.num_edges for g in graphs], dtype=np.int64),
            boxes=_concat([g.boxes for g in graphs], (0, 4), np.int32),
            features=_concat([g.features for g in graphs], (0, NUM_FEATURES), np.float32),
            edges=_concat([g.edges for g in graphs], (0, 2), np.int32),
            image_shapes=np.array([g.image_shape for g in graphs], dtype=np.int64).reshape(-1, 2),
        )


def _concat(parts: list[np.ndarray], empty_shape: tuple[int, int], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(empty_shape, dtype=dtype)


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
    ) -> None:
        self.path = Path(path)
        self.params = params
        self._box_dtype = box_dtype(params)
        self._edge_dtype = edge_dtype(params)
        self._file = h5py.File(self.path, "w", track_order=False)
        f = self._file
        f.attrs.update({
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "fer_graph_version": fer_graph.__version__,
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
        opts = dict(compression=compression, shuffle=compression is not None)
        self._boxes = f.create_dataset("nodes/boxes", (0, 4), self._box_dtype, maxshape=(None, 4),
                                       chunks=(_CHUNK_ROWS, 4), **opts)
        self._features = f.create_dataset(
            "nodes/features", (0, NUM_FEATURES), np.dtype(feature_dtype),
            maxshape=(None, NUM_FEATURES), chunks=(_CHUNK_ROWS, NUM_FEATURES), **opts)
        self._edges = f.create_dataset("edges/index", (0, 2), self._edge_dtype, maxshape=(None, 2),
                                       chunks=(_CHUNK_ROWS, 2), **opts)

    def append(self, ids: Sequence[str], labels: Sequence[int], splits: Sequence[str],
               arrays: GraphArrays) -> None:
        """Append graphs (``arrays`` holds them concatenated, in the order of ``ids``)."""
        if not len(ids) == len(labels) == len(splits) == len(arrays.node_counts):
            raise ValueError("ids, labels, splits and graphs differ in length")
        if arrays.boxes.size and arrays.boxes.max() > np.iinfo(self._box_dtype).max:
            raise ValueError(f"box coordinates exceed {self._box_dtype} (image_size {self.params.image_size})")
        if arrays.edges.size and arrays.edges.max() > np.iinfo(self._edge_dtype).max:
            raise ValueError(f"node ids exceed {self._edge_dtype} (max_nodes {self.params.max_nodes})")
        self._ids.extend(ids)
        self._labels.extend(int(x) for x in labels)
        self._splits.extend(splits)
        for counts, offsets in ((arrays.node_counts, self._node_offsets),
                                (arrays.edge_counts, self._edge_offsets)):
            offsets.extend((offsets[-1] + np.cumsum(counts)).tolist())
        self._shapes.append(np.asarray(arrays.image_shapes).reshape(-1, 2))
        _extend(self._boxes, arrays.boxes)
        _extend(self._features, cast_features(arrays.features, self._features.dtype))
        _extend(self._edges, arrays.edges)

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
        f.close()

    def __enter__(self) -> "GraphStoreWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _extend(dataset: h5py.Dataset, rows: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize(start + rows.shape[0], axis=0)
    if rows.shape[0]:
        dataset[start:] = rows.astype(dataset.dtype, copy=False)


class GraphStore:
    """Read-only access to a graph store; ``get(id)`` is one dict lookup plus three slices.

    Safe to pickle (e.g. into DataLoader workers): the HDF5 handle is reopened lazily.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"graph store not found: {self.path}")
        self._file: h5py.File | None = None
        self._memory: GraphArrays | None = None
        f = self._open()
        if f.attrs.get("format") != FORMAT:
            self.close()
            raise ValueError(f"not a fer_graph graph store: {self.path}")
        self.params = GBRParams.from_dict(json.loads(f.attrs["params"]))
        self.fer_graph_version = str(f.attrs["fer_graph_version"])
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
        self.failures = list(zip(*(_strings(f[f"failures/{n}"]) for n in ("ids", "paths", "reasons"))))
        self._row = {sample_id: row for row, sample_id in enumerate(self.ids)}

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
        src = self._memory
        if src is None:
            f = self._open()
            src_boxes, src_features, src_edges = f["nodes/boxes"], f["nodes/features"], f["edges/index"]
        else:
            src_boxes, src_features, src_edges = src.boxes, src.features, src.edges
        return BallGraph(
            boxes=np.asarray(src_boxes[n0:n1], dtype=np.int32),
            features=np.asarray(src_features[n0:n1], dtype=np.float32),
            edges=np.asarray(src_edges[e0:e1], dtype=np.int32).reshape(-1, 2),
            image_shape=(int(self.image_shapes[row, 0]), int(self.image_shapes[row, 1])),
        )

    def load_all(self) -> GraphArrays:
        """Read every node and edge array into memory (stored dtypes); later ``get`` calls use it."""
        if self._memory is None:
            f = self._open()
            self._memory = GraphArrays(
                node_counts=np.diff(self.node_offsets), edge_counts=np.diff(self.edge_offsets),
                boxes=f["nodes/boxes"][()], features=f["nodes/features"][()],
                edges=f["edges/index"][()], image_shapes=self.image_shapes,
            )
        return self._memory

    def bytes_per_graph(self) -> float:
        """File size divided by the number of graphs."""
        return self.path.stat().st_size / max(len(self), 1)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        return state


def _strings(dataset: h5py.Dataset) -> list[str]:
    return list(dataset.asstr()[()]) if dataset.shape[0] else []
