"""The compact stored form of granular-ball graphs: encode (checked) and decode.

Geometry columns (row, col, half_width, half_height, row_norm, col_norm) are recomputed from
the boxes on read, exactly as ``fer_graph.granular.features`` computes them (``encode``
checks that they match, so a builder change cannot silently corrupt a store). The only loss
is float16 rounding of the four statistics: 11 significant bits (relative error <= 2^-11,
about 4.9e-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np

from fer_graph.granular.graph import FEATURE_NAMES, NUM_FEATURES, BallGraph, GBRParams

GEOMETRY = [FEATURE_NAMES.index(n) for n in
            ("row", "col", "half_width", "half_height", "row_norm", "col_norm")]
STATS = [FEATURE_NAMES.index(n) for n in ("variance", "mean", "skewness", "entropy")]
EXTREMA = [FEATURE_NAMES.index(n) for n in ("max", "min")]
NODE_ARRAYS = ("boxes", "stats", "extrema", "degree")
# the same as tuples, which numba reads as constants (GEOMETRY_COLUMNS in that order also in transforms)
GEOMETRY_COLUMNS, _STATS_COLUMNS, _EXTREMA_COLUMNS = tuple(GEOMETRY), tuple(STATS), tuple(EXTREMA)


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


def derive_geometry(boxes: np.ndarray, image_shape: np.ndarray) -> np.ndarray:
    """(N, 6) float32 row, col, half_width, half_height, row_norm, col_norm of boxes.

    ``image_shape`` is (2,) for all boxes or (N, 2) per box. Same float64 arithmetic as the
    builder, so the float32 results are bit-identical.
    """
    boxes = np.asarray(boxes)
    shape = np.asarray(image_shape, dtype=np.float64)
    out = np.empty((boxes.shape[0], 6), dtype=np.float32)
    row = 0.5 * (boxes[:, 0] + boxes[:, 2].astype(np.float64))
    col = 0.5 * (boxes[:, 1] + boxes[:, 3].astype(np.float64))
    out[:, 0], out[:, 1] = row, col
    out[:, 2] = 0.5 * (boxes[:, 3] - boxes[:, 1].astype(np.float64))
    out[:, 3] = 0.5 * (boxes[:, 2] - boxes[:, 0].astype(np.float64))
    out[:, 4] = row * (1.0 / np.maximum(shape[..., 0] - 1, 1))
    out[:, 5] = col * (1.0 / np.maximum(shape[..., 1] - 1, 1))
    return out


@dataclass
class GraphArrays:
    """Many graphs as concatenated arrays (graph g's rows follow the counts before it)."""

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


def encode(arrays: GraphArrays, params: GBRParams, feature_dtype: str = "float16") -> dict:
    """The stored form of concatenated graphs (``fer_graph.data.store``'s node and edge arrays).

    Raises:
        ValueError: values that the compact form cannot hold exactly (out-of-range boxes or
            node ids, non-integer extrema, geometry or edge order unlike the builder's).
    """
    nodes = int(arrays.node_counts.sum())
    shapes = np.asarray(arrays.image_shapes).reshape(-1, 2)
    if len(shapes) and (shapes == shapes[0]).all():
        shapes = shapes[0]  # one size for all (the usual resized dataset): no per-node copy
    else:
        shapes = np.repeat(shapes, arrays.node_counts, axis=0)
    features = np.asarray(arrays.features, dtype=np.float32).reshape(nodes, NUM_FEATURES)
    boxes = np.asarray(arrays.boxes).reshape(nodes, 4)
    boxes_t, edges_t = box_dtype(params), edge_dtype(params)
    if nodes and (boxes.max() > np.iinfo(boxes_t).max or boxes.min() < 0):
        raise ValueError(f"box coordinates outside {boxes_t} (image_size {params.image_size})")
    if not np.array_equal(derive_geometry(boxes, shapes), features[:, GEOMETRY]):
        raise ValueError("node geometry differs from the box centres/half-sizes the store derives")
    extrema = features[:, EXTREMA]
    extrema_u8 = extrema.astype(np.uint8)
    if not np.array_equal(extrema_u8, extrema):
        raise ValueError("max/min features are not integer grey levels 0-255")
    edges = np.asarray(arrays.edges).reshape(-1, 2)
    if edges.size and edges.max() > np.iinfo(edges_t).max:
        raise ValueError(f"node ids exceed {edges_t} (max_nodes {params.max_nodes})")
    node_start = np.repeat(np.cumsum(arrays.node_counts) - arrays.node_counts, arrays.edge_counts)
    src = edges[:, 0].astype(np.int64) + node_start  # global ids: sorted iff each graph's are
    if np.any(np.diff(src) < 0) or np.any(edges[:, 0] >= edges[:, 1]):
        raise ValueError("edges must be i < j and sorted by i within each graph")
    return {
        "node_counts": np.asarray(arrays.node_counts, dtype=np.int64),
        "edge_counts": np.asarray(arrays.edge_counts, dtype=np.int64),
        "image_shapes": np.asarray(arrays.image_shapes, dtype=np.int64).reshape(-1, 2),
        "boxes": boxes.astype(boxes_t),
        "stats": cast_features(features[:, STATS], feature_dtype),
        "extrema": extrema_u8,
        "degree": np.bincount(src, minlength=nodes).astype(np.uint16),
        "dst": edges[:, 1].astype(edges_t),
    }


def decode(boxes, stats, extrema, degree, dst, image_shape: tuple[int, int]) -> BallGraph:
    """One graph from its stored rows (the inverse of ``encode``).

    Raises:
        ValueError: the node rows disagree in length, or the degrees do not add up to the edges.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    boxes = np.ascontiguousarray(boxes, dtype=np.int32)
    degree = np.ascontiguousarray(degree, dtype=np.int64)
    dst = np.ascontiguousarray(dst, dtype=np.int32)
    nodes = boxes.shape[0]
    if len(stats) != nodes or len(extrema) != nodes or len(degree) != nodes or degree.sum() != len(dst):
        raise ValueError(f"stored graph rows disagree: {nodes} boxes, {len(stats)} stats, {len(extrema)} "
                         f"extrema, {len(degree)} degrees adding up to {degree.sum()} for {len(dst)} edges")
    features, edges = _decode_arrays(boxes, np.ascontiguousarray(stats, dtype=np.float32),
                                     np.ascontiguousarray(extrema, dtype=np.float32), degree, dst,
                                     height, width)
    return BallGraph(boxes=boxes, features=features, edges=edges, image_shape=(height, width))


@numba.njit(cache=True)
def _decode_arrays(boxes, stats, extrema, degree, dst, height, width):  # pragma: no cover (jitted)
    """Node features (geometry as ``derive_geometry`` computes it, bit for bit) and (E, 2) edges.

    Numba rather than numpy: a graph has ~200 nodes, and numpy's per-call overhead was most of
    the time a training batch spent decoding its graphs.
    """
    features = np.empty((boxes.shape[0], NUM_FEATURES), dtype=np.float32)
    row_scale = 1.0 / max(np.float64(height) - 1.0, 1.0)
    col_scale = 1.0 / max(np.float64(width) - 1.0, 1.0)
    g_row, g_col, g_half_w, g_half_h, g_row_norm, g_col_norm = GEOMETRY_COLUMNS
    edges = np.empty((dst.shape[0], 2), dtype=np.int32)
    edge = 0
    for i in range(boxes.shape[0]):
        row = 0.5 * (boxes[i, 0] + np.float64(boxes[i, 2]))
        col = 0.5 * (boxes[i, 1] + np.float64(boxes[i, 3]))
        features[i, g_row], features[i, g_col] = row, col
        features[i, g_half_w] = 0.5 * (boxes[i, 3] - np.float64(boxes[i, 1]))
        features[i, g_half_h] = 0.5 * (boxes[i, 2] - np.float64(boxes[i, 0]))
        features[i, g_row_norm], features[i, g_col_norm] = row * row_scale, col * col_scale
        for k in range(len(_STATS_COLUMNS)):
            features[i, _STATS_COLUMNS[k]] = stats[i, k]
        for k in range(len(_EXTREMA_COLUMNS)):
            features[i, _EXTREMA_COLUMNS[k]] = extrema[i, k]
        for _ in range(degree[i]):
            edges[edge, 0], edges[edge, 1] = i, dst[edge]
            edge += 1
    return features, edges
