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
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    graph_index: torch.Tensor
    centers: torch.Tensor
    num_graphs: int

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
    )
