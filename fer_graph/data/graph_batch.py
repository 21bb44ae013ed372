"""Many ball graphs collated into one disjoint graph, the form the spatial stream consumes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from fer_graph.granular.graph import BallGraph


@dataclass
class GraphBatch:
    """A batch of graphs as one disjoint union.

    Attributes:
        x: (total_nodes, F) float32 node features.
        edge_index: (2, total_directed_edges) int64 source/destination node ids, every
            undirected edge in both directions, no self-loops (SREN adds them).
        graph_index: (total_nodes,) int64 id of the graph each node belongs to.
        centers: (total_nodes, 2) float32 normalised (row, col) node centres in [0, 1].
        num_graphs: number of graphs in the batch.
        boxes: (total_nodes, 4) float32 (top, left, bottom, right) of each node's rectangle as
            fractions of its graph's frame (0 and 1 being the outer edges), or None.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    graph_index: torch.Tensor
    centers: torch.Tensor
    num_graphs: int
    boxes: torch.Tensor | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "GraphBatch":
        return GraphBatch(
            x=self.x.to(device, non_blocking=non_blocking),
            edge_index=self.edge_index.to(device, non_blocking=non_blocking),
            graph_index=self.graph_index.to(device, non_blocking=non_blocking),
            centers=self.centers.to(device, non_blocking=non_blocking),
            num_graphs=self.num_graphs,
            boxes=None if self.boxes is None else self.boxes.to(device, non_blocking=non_blocking),
        )

    def nodes_per_graph(self) -> torch.Tensor:
        return torch.bincount(self.graph_index, minlength=self.num_graphs)


def collate_graphs(graphs: Sequence[BallGraph]) -> GraphBatch:
    """Join graphs into one GraphBatch (node ids offset per graph, edges made two-way)."""
    if not graphs:
        raise ValueError("collate_graphs needs at least one graph")
    counts = np.array([g.num_nodes for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    x = np.concatenate([g.features for g in graphs]).astype(np.float32, copy=False)
    edges = np.concatenate(
        [g.edges.astype(np.int64) + off for g, off in zip(graphs, offsets)]
    ).reshape(-1, 2)
    two_way = np.concatenate([edges, edges[:, ::-1]]).T
    graph_index = np.repeat(np.arange(len(graphs), dtype=np.int64), counts)
    x_t = torch.from_numpy(np.ascontiguousarray(x))
    return GraphBatch(
        x=x_t,
        edge_index=torch.from_numpy(np.ascontiguousarray(two_way)),
        graph_index=torch.from_numpy(graph_index),
        centers=x_t[:, -2:].clone(),
        num_graphs=len(graphs),
        boxes=torch.from_numpy(_normalised_boxes(x, graphs, counts)),
    )


def _normalised_boxes(x: np.ndarray, graphs: Sequence[BallGraph], counts: np.ndarray) -> np.ndarray:
    """(top, left, bottom, right) fractions of each rectangle from its centre and half sizes.

    The features, not ``graph.boxes``, are read because training transforms move them.
    A rectangle of pixel rows r0..r1 spans [r0, r1 + 1) of the frame's height.
    """
    frames = np.repeat(np.array([g.image_shape for g in graphs], dtype=np.float32).reshape(-1, 2), counts, axis=0)
    row, col, half_w, half_h = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    boxes = np.stack([row - half_h, col - half_w, row + half_h + 1, col + half_w + 1], axis=1)
    return np.ascontiguousarray(boxes / np.tile(frames, 2), dtype=np.float32)
