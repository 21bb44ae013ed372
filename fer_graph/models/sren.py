"""SREN: the spatial stream, GraphConv layers over granular-ball graphs, DGL or plain torch."""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from typing import Mapping

import torch
from torch import nn

from fer_graph.data.graph_batch import GraphBatch

BACKENDS = ("auto", "dgl", "torch")
CONVS = ("gcn", "gin")
# "linear": [mean | max] of the last layer's node states through a linear layer to D_e;
# "mean": the mean of the last layer's node states, which must then be D_e wide (Eqs. 3-4).
READOUTS = ("linear", "mean")


def dgl_available() -> bool:
    """True when DGL is installed (it is imported only when a DGL graph is built)."""
    return importlib.util.find_spec("dgl") is not None


@functools.lru_cache(maxsize=1)
def dgl_import_error() -> str | None:
    """Why an installed DGL does not import (None when it imports); tried once per process."""
    try:
        _import_dgl()
    except Exception as err:  # a broken install fails in many ways: missing libs, wrong backend
        return f"{type(err).__name__}: {err}"
    return None


def resolve_backend(backend: str, device: torch.device) -> str:
    """Maps "auto" to "dgl" on CPU when DGL imports, else "torch" (no DGL runs on CUDA).

    An installed DGL that fails to import makes "auto" use the torch backend, with a warning
    naming the import error (given once per process).
    """
    if backend not in BACKENDS:
        raise ValueError(f"graph_backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if device.type != "cpu" or not dgl_available():
            return "torch"
        error = dgl_import_error()
        if error is not None:
            _warn_fallback(error)
            return "torch"
        return "dgl"
    if backend == "dgl" and device.type != "cpu":
        raise RuntimeError(f"graph_backend 'dgl' runs on the CPU only, got device {device}")
    if backend == "dgl" and not dgl_available():
        raise RuntimeError("graph_backend 'dgl' needs DGL installed; use 'torch' or 'auto'")
    if backend == "dgl" and dgl_import_error() is not None:
        raise RuntimeError(f"graph_backend 'dgl': DGL does not import ({dgl_import_error()}); use 'torch' or 'auto'")
    return backend


@functools.lru_cache(maxsize=1)
def _warn_fallback(error: str) -> None:
    warnings.warn(f"graph_backend auto: DGL is installed but does not import ({error}); "
                  "using the torch graph backend", RuntimeWarning, stacklevel=3)


def _import_dgl():
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import dgl

    return dgl


@functools.lru_cache(maxsize=None)
def _dgl_conv(in_features: int, out_features: int) -> nn.Module:
    """A parameter-free dgl.nn.GraphConv (weights are passed in, so state_dicts match)."""
    from dgl.nn import GraphConv as DGLGraphConv

    return DGLGraphConv(in_features, out_features, norm="both", weight=False, bias=False)


def with_self_loops(edge_index: torch.Tensor, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source and destination ids of the edges followed by one self-loop per node.

    The loops come last, so the edge ids are those dgl.add_self_loop gives.
    """
    loops = torch.arange(num_nodes, device=edge_index.device)
    return torch.cat([edge_index[0], loops]), torch.cat([edge_index[1], loops])


class TorchGraph:
    """A batched graph with self-loops as index tensors; propagation with index_add_."""

    def __init__(self, edge_index: torch.Tensor, num_nodes: int) -> None:
        self.src, self.dst = with_self_loops(edge_index, num_nodes)
        self.num_nodes = num_nodes
        self.deg_src = torch.bincount(self.src, minlength=num_nodes).unsqueeze(1)
        self.deg_dst = torch.bincount(self.dst, minlength=num_nodes).unsqueeze(1)

    def propagate(self, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """D_dst^-1/2 (A+I) D_src^-1/2 h W, multiplying by W first when it shrinks h (as DGL)."""
        shrink = weight.shape[0] > weight.shape[1]
        if shrink:
            h = h @ weight
        # index_select, not h[src]: its backward is index_add_, far faster on CPU than the
        # accumulating index_put_ behind advanced indexing
        messages = (h * self.deg_src.to(h.dtype).pow(-0.5)).index_select(0, self.src)
        out = h.new_zeros(self.num_nodes, h.shape[1]).index_add_(0, self.dst, messages)
        out = out * self.deg_dst.to(h.dtype).pow(-0.5)
        return out if shrink else out @ weight

    def sum_neighbours(self, h: torch.Tensor) -> torch.Tensor:
        """(A+I) h: each node's own features plus the sum over its neighbours."""
        return h.new_zeros(self.num_nodes, h.shape[1]).index_add_(0, self.dst, h.index_select(0, self.src))


class DGLGraph:
    """A batched graph as a DGLGraph with self-loops; propagation with dgl.nn.GraphConv."""

    def __init__(self, edge_index: torch.Tensor, num_nodes: int) -> None:
        # one graph creation; dgl.add_self_loop would copy the graph to add the loops
        self.graph = _import_dgl().graph(with_self_loops(edge_index, num_nodes), num_nodes=num_nodes)

    def propagate(self, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """dgl.nn.GraphConv(norm="both") with the external weight."""
        return _dgl_conv(weight.shape[0], weight.shape[1])(self.graph, h, weight=weight)

    def sum_neighbours(self, h: torch.Tensor) -> torch.Tensor:
        """(A+I) h: each node's own features plus the sum over its neighbours."""
        return _import_dgl().ops.copy_u_sum(self.graph, h)


def batch_to_graph(graphs: GraphBatch, backend: str) -> TorchGraph | DGLGraph:
    """The propagation structure for one batch (built once, shared by all layers)."""
    backend = resolve_backend(backend, graphs.x.device)
    cls = DGLGraph if backend == "dgl" else TorchGraph
    return cls(graphs.edge_index, graphs.num_nodes)


class GraphConv(nn.Module):
    """One GCN layer, D^-1/2 (A+I) D^-1/2 X W + b, with dgl.nn.GraphConv's parameter layout."""

    def __init__(self, *, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, graph: TorchGraph | DGLGraph, h: torch.Tensor) -> torch.Tensor:
        return graph.propagate(h, self.weight) + self.bias


class GINConv(nn.Module):
    """One GIN layer, MLP((1 + eps) h_v + sum_{u in N(v)} h_u) with a learned eps (Xu et al. 2019).

    The authors' released code uses GIN; (A+I) h supplies h_v once, so eps h_v is added on top.
    """

    def __init__(self, *, in_features: int, out_features: int) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(()))
        self.mlp = nn.Sequential(
            nn.Linear(in_features, out_features), nn.ReLU(),
            nn.Linear(out_features, out_features),
        )

    def forward(self, graph: TorchGraph | DGLGraph, h: torch.Tensor) -> torch.Tensor:
        return self.mlp(graph.sum_neighbours(h) + self.eps * h)


def graph_mean(h: torch.Tensor, graph_index: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """Per-graph mean of node features, (num_graphs, F); empty graphs give 0."""
    counts = torch.bincount(graph_index, minlength=num_graphs)
    total = h.new_zeros(num_graphs, h.shape[1]).index_add_(0, graph_index, h)
    return total / counts.clamp(min=1).to(h.dtype).unsqueeze(1)


def graph_readout(h: torch.Tensor, graph_index: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """Per-graph [mean | max] of node features, (num_graphs, 2 * F); empty graphs give 0."""
    width = h.shape[1]
    counts = torch.bincount(graph_index, minlength=num_graphs)
    mean = graph_mean(h, graph_index, num_graphs)
    if bool((graph_index[1:] >= graph_index[:-1]).all()):
        # collate_graphs keeps each graph's nodes contiguous: a segment max is ~2x faster
        peak = torch.segment_reduce(h, "max", lengths=counts, unsafe=True)
        peak = torch.where(counts.unsqueeze(1) > 0, peak, torch.zeros_like(peak))
    else:
        index = graph_index.unsqueeze(1).expand(-1, width)
        peak = h.new_zeros(num_graphs, width).scatter_reduce(0, index, h, "amax", include_self=False)
    return torch.cat([mean, peak], dim=1)


class SREN(nn.Module):
    """SREN: spatial representation extraction network (GraphConv stack + readout -> F_b^s)."""

    def __init__(
        self,
        *,
        in_features: int = 12,
        hidden: int = 64,
        num_layers: int = 2,
        embed_dim: int = 1024,
        backend: str = "auto",
        conv: str = "gcn",
        residual: bool = False,
        readout: str = "linear",
    ) -> None:
        """Builds the layers.

        Args:
            in_features: node feature size (GraphBatch.x.shape[1]).
            hidden: width of every GraphConv layer.
            num_layers: number of GraphConv layers (>= 1).
            embed_dim: size D_e of F_b^s.
            backend: "dgl", "torch" or "auto" (DGL on CPU when installed, else torch).
            conv: "gcn" (the paper's GraphConv) or "gin".
            residual: add each layer's input to its output where the widths agree
                (every layer after the first), for deeper stacks.
            readout: one of READOUTS; "mean" needs hidden == embed_dim.
        """
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"sren_layers must be >= 1, got {num_layers}")
        if conv not in CONVS:
            raise ValueError(f"sren_conv must be one of {CONVS}, got {conv!r}")
        if readout not in READOUTS:
            raise ValueError(f"sren_readout must be one of {READOUTS}, got {readout!r}")
        if readout == "mean" and hidden != embed_dim:
            raise ValueError(
                f"sren_readout 'mean' makes F_b^s the mean node state, so sren_hidden ({hidden}) "
                f"must equal embed_dim ({embed_dim})"
            )
        if backend != "auto":  # "auto" is resolved per batch, where the device is known
            resolve_backend(backend, torch.device("cpu"))
        self.in_features = in_features
        self.hidden = hidden
        self.backend = backend
        # Raw features mix pixels, variances up to ~2500, entropies and [0, 1] centres:
        # batch statistics put them on one scale before the first layer.
        self.input_norm = nn.BatchNorm1d(in_features)
        widths = [in_features] + [hidden] * num_layers
        layer = GraphConv if conv == "gcn" else GINConv
        self.layers = nn.ModuleList(
            layer(in_features=a, out_features=b) for a, b in zip(widths[:-1], widths[1:])
        )
        self.residual = residual
        self.activation = nn.ReLU()
        self.readout = nn.Linear(2 * hidden, embed_dim) if readout == "linear" else None

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def forward(
        self,
        graphs: GraphBatch,
        guidance: Mapping[int, torch.Tensor] | None = None,
        graph: TorchGraph | DGLGraph | None = None,
    ) -> torch.Tensor:
        """Returns F_b^s (num_graphs, D_e).

        Args:
            graphs: the batch of graphs.
            guidance: AGM terms, layer id (>= 0) -> (num_nodes, hidden), added to that
                layer's output before its activation (Eq. 4).
            graph: the batch's propagation structure when already built (batch_to_graph).
        """
        if graphs.x.shape[1] != self.in_features:
            raise ValueError(
                f"graphs have {graphs.x.shape[1]} node features, the model expects "
                f"node_features={self.in_features}"
            )
        graph = graph if graph is not None else batch_to_graph(graphs, self.backend)
        if self.training and graphs.num_nodes == 1:
            # a lone node has no batch statistics: normalise it with the running ones
            self.input_norm.eval()
            h = self.input_norm(graphs.x)
            self.input_norm.train()
        else:
            h = self.input_norm(graphs.x)
        guidance = guidance or {}
        for index, layer in enumerate(self.layers):
            skip = h if self.residual and index > 0 else None
            h = layer(graph, h)
            if index in guidance:
                h = h + guidance[index]
            h = self.activation(h)
            if skip is not None:
                h = h + skip
        if self.readout is None:
            return graph_mean(h, graphs.graph_index, graphs.num_graphs)
        return self.readout(graph_readout(h, graphs.graph_index, graphs.num_graphs))
