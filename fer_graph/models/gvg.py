"""GVG (graph-to-visual guidance, not in the paper): ball embeddings painted into a VREN stage map.

In CS-GBSBF guidance runs one way, VREN -> SREN (AGM). GVG adds the other way: node
embeddings from one GraphConv over the granular-ball graph are painted over their balls'
rectangles on the grid of a VREN stage (a cell takes the mean of the balls covering its
centre), passed through a 1x1 convolution and added to that stage's output before the
next stage. The convolution starts at zero, so training starts from the plain backbone.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from fer_graph.data.graph_batch import GraphBatch
from fer_graph.models.sren import GraphConv


def paint_nodes(
    values: torch.Tensor, boxes: torch.Tensor, graph_index: torch.Tensor, num_graphs: int,
    height: int, width: int,
) -> torch.Tensor:
    """Per-image maps (B, C, height, width): each cell the mean of the nodes covering its centre.

    Args:
        values: (num_nodes, C) node values.
        boxes: (num_nodes, 4) (top, left, bottom, right) fractions of the frame.
        graph_index: (num_nodes,) image of each node.
        num_graphs: B.
        height, width: the grid; cell (i, j) has its centre at ((i + .5) / h, (j + .5) / w).

    Cells no node covers are 0. Only the (node, cell) pairs that cover are summed. Under
    autocast the values are rounded to its dtype and summed in float32, the sum rounded once:
    what the autocast matmul of a dense (B, N, h*w) cover matrix, used before, did (at ~9x the
    time on a CPU without native bf16), so GVG runs trained with it keep their bits.
    """
    rows = (torch.arange(height, device=values.device, dtype=boxes.dtype) + 0.5) / height
    cols = (torch.arange(width, device=values.device, dtype=boxes.dtype) + 0.5) / width
    in_rows = (rows >= boxes[:, 0:1]) & (rows < boxes[:, 2:3])      # (num_nodes, h)
    in_cols = (cols >= boxes[:, 1:2]) & (cols < boxes[:, 3:4])      # (num_nodes, w)
    node, row, col = torch.nonzero(in_rows.unsqueeze(-1) & in_cols.unsqueeze(-2), as_tuple=True)
    cell = (graph_index[node] * height + row) * width + col
    cells = num_graphs * height * width
    kind = values.device.type
    compute = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else values.dtype
    wide = torch.float64 if compute == torch.float64 else torch.float32
    with torch.autocast(kind, enabled=False):
        picked = values.to(compute).to(wide).index_select(0, node)
        total = picked.new_zeros(cells, values.shape[1]).index_add(0, cell, picked).to(compute)
        hits = torch.bincount(cell, minlength=cells).clamp(min=1).to(values.dtype).unsqueeze(-1)
        painted = total / hits
    return painted.view(num_graphs, height, width, values.shape[1]).permute(0, 3, 1, 2)


class GVG(nn.Module):
    """GVG: one GraphConv over the balls, painted on a stage grid, 1x1 conv, added to the stage map."""

    def __init__(self, *, in_features: int, hidden: int, stage_channels: int, stage: int = 0) -> None:
        """Args:
            in_features: node feature size.
            hidden: width of the node embedding.
            stage_channels: channels of the guided VREN stage.
            stage: the id of the guided VREN stage (see ``adjust``).
        """
        super().__init__()
        self.stage = stage
        self.stage_channels = stage_channels
        self.input_norm = nn.BatchNorm1d(in_features)
        self.conv = GraphConv(in_features=in_features, out_features=hidden)
        self.activation = nn.ReLU()
        self.project = nn.Conv2d(hidden, stage_channels, kernel_size=1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, graph, graphs: GraphBatch, stage_map: torch.Tensor) -> torch.Tensor:
        """The guidance term for a (B, C, h, w) stage map, same shape.

        Args:
            graph: the batch's propagation structure (sren.batch_to_graph).
            graphs: the batch (needs ``boxes``).
            stage_map: the VREN stage output being guided.
        """
        if graphs.boxes is None:
            raise ValueError("graph guidance needs node boxes: collate graphs with collate_graphs")
        h = self.activation(self.conv(graph, self.input_norm(graphs.x)))
        _, _, height, width = stage_map.shape
        painted = paint_nodes(h, graphs.boxes.to(h.dtype), graphs.graph_index, graphs.num_graphs,
                              height, width)
        return self.project(painted.to(stage_map.dtype))

    def adjust(self, graph, graphs: GraphBatch) -> dict[int, Callable[[torch.Tensor], torch.Tensor]]:
        """VREN.forward_features' ``adjust``: the guided stage's map plus the guidance term.

        NHWC stage outputs (Swin) are guided in NCHW and returned as they came.
        """
        def guided(stage_map: torch.Tensor) -> torch.Tensor:
            nhwc = stage_map.shape[1] != self.stage_channels and stage_map.shape[-1] == self.stage_channels
            nchw = stage_map.permute(0, 3, 1, 2) if nhwc else stage_map
            out = nchw + self(graph, graphs, nchw)
            return out.permute(0, 2, 3, 1) if nhwc else out

        return {self.stage: guided}
