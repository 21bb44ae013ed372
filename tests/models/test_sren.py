"""SREN: both GraphConv backends against each other and a dense computation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fer_graph.data.graph_batch import GraphBatch
from fer_graph.models.sren import SREN, GraphConv, batch_to_graph, graph_readout, resolve_backend

from model_helpers import NEEDS_DGL, dense_gcn

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("dgl", "torch")
EACH_BACKEND = (pytest.param("dgl", marks=NEEDS_DGL), "torch")


def four_node_graph() -> GraphBatch:
    # path 0-1-2-3 plus chord 0-2: degrees with self-loops 3, 3, 4, 2
    undirected = torch.tensor([[0, 1], [1, 2], [2, 3], [0, 2]])
    edge_index = torch.cat([undirected, undirected.flip(1)]).T.contiguous()
    x = torch.arange(8, dtype=torch.float64).reshape(4, 2) / 7
    return GraphBatch(x=x, edge_index=edge_index, graph_index=torch.zeros(4, dtype=torch.long),
                      centers=torch.rand(4, 2), num_graphs=1)


@pytest.mark.parametrize("backend", EACH_BACKEND)
def test_graphconv_matches_hand_computed_four_node_graph(backend: str) -> None:
    graphs = four_node_graph()
    conv = GraphConv(in_features=2, out_features=3).double()
    out = conv(batch_to_graph(graphs, backend), graphs.x)
    adj_hat = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 1, 1]], dtype=torch.float64)
    deg = torch.tensor([3.0, 3.0, 4.0, 2.0], dtype=torch.float64)
    norm_adj = adj_hat / torch.sqrt(deg[:, None] * deg[None, :])
    expected = norm_adj @ graphs.x @ conv.weight + conv.bias
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@NEEDS_DGL
@pytest.mark.parametrize("in_features,out_features", [(12, 8), (8, 20)])
def test_backends_equal_dense_outputs_and_gradients(
    make_graphs, in_features: int, out_features: int
) -> None:
    graphs = make_graphs([1, 7, 250], seed=1)
    x = torch.randn(graphs.num_nodes, in_features, dtype=torch.float64)
    conv = GraphConv(in_features=in_features, out_features=out_features).double()
    results = {}
    for backend in BACKENDS:
        conv.zero_grad()
        xb = x.clone().requires_grad_(True)
        out = conv(batch_to_graph(graphs, backend), xb)
        (out.sin().sum()).backward()
        results[backend] = (out.detach(), xb.grad, conv.weight.grad.clone(), conv.bias.grad.clone())
    xd = x.clone().requires_grad_(True)
    weight = conv.weight.detach().clone().requires_grad_(True)
    bias = conv.bias.detach().clone().requires_grad_(True)
    dense = dense_gcn(xd, graphs.edge_index, weight, bias)
    dense.sin().sum().backward()
    expected = (dense.detach(), xd.grad, weight.grad, bias.grad)
    for backend in BACKENDS:
        for got, want in zip(results[backend], expected):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@NEEDS_DGL
def test_sren_state_dict_loads_into_either_backend_with_equal_results(make_graphs) -> None:
    graphs = make_graphs([1, 40, 300], seed=2)
    torch.manual_seed(0)
    models = {b: SREN(in_features=12, hidden=16, num_layers=3, embed_dim=24, backend=b).double()
              for b in BACKENDS}
    models["torch"].load_state_dict(models["dgl"].state_dict())
    assert list(models["dgl"].state_dict()) == list(models["torch"].state_dict())
    # guidance on the last layer also breaks exact ties between nodes with identical
    # neighbourhoods, where max-readout gradients would depend on last-bit rounding
    guidance = {1: torch.randn(graphs.num_nodes, 16, dtype=torch.float64),
                2: torch.randn(graphs.num_nodes, 16, dtype=torch.float64)}
    outs, grads = {}, {}
    x64 = GraphBatch(x=graphs.x.double(), edge_index=graphs.edge_index, graph_index=graphs.graph_index,
                     centers=graphs.centers, num_graphs=graphs.num_graphs)
    for backend, model in models.items():
        out = model(x64, guidance)
        out.pow(2).sum().backward()
        outs[backend] = out.detach()
        grads[backend] = {n: p.grad for n, p in model.named_parameters()}
    assert outs["dgl"].shape == (3, 24)
    torch.testing.assert_close(outs["dgl"], outs["torch"], rtol=1e-10, atol=1e-10)
    for name, grad in grads["dgl"].items():
        assert grad is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(grad, grads["torch"][name], rtol=1e-9, atol=1e-10)


def test_readout_is_per_graph_mean_and_max() -> None:
    h = torch.tensor([[1.0, -2.0], [3.0, -4.0], [5.0, 6.0]])
    out = graph_readout(h, torch.tensor([0, 0, 1]), 2)
    expected = torch.tensor([[2.0, -3.0, 3.0, -2.0], [5.0, 6.0, 5.0, 6.0]])
    torch.testing.assert_close(out, expected)


def test_sren_rejects_wrong_feature_size(make_graphs) -> None:
    with pytest.raises(ValueError, match="node_features=10"):
        SREN(in_features=10, hidden=8, num_layers=1, embed_dim=8)(make_graphs([5]))


@NEEDS_DGL
def test_auto_backend_picks_dgl_on_cpu_and_torch_elsewhere() -> None:
    assert resolve_backend("auto", torch.device("cpu")) == "dgl"
    assert resolve_backend("auto", torch.device("cuda")) == "torch"
    with pytest.raises(RuntimeError, match="CPU only"):
        resolve_backend("dgl", torch.device("cuda"))
    with pytest.raises(ValueError, match="graph_backend"):
        resolve_backend("pyg", torch.device("cpu"))


def test_single_node_batch_trains_with_running_statistics() -> None:
    graphs = GraphBatch(x=torch.rand(1, 12) * 100, edge_index=torch.zeros(2, 0, dtype=torch.long),
                        graph_index=torch.zeros(1, dtype=torch.long), centers=torch.rand(1, 2), num_graphs=1)
    model = SREN(in_features=12, hidden=8, num_layers=2, embed_dim=4, backend="torch")
    out = model(graphs)
    assert out.shape == (1, 4) and model.input_norm.training
    model.eval()
    torch.testing.assert_close(out, model(graphs))


def test_readout_handles_unsorted_nodes_and_empty_graphs() -> None:
    h = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    graph_index = torch.tensor([2, 0, 2, 0, 0, 3, 3])
    sorted_order = torch.argsort(graph_index, stable=True)
    unsorted = graph_readout(h, graph_index, 4)
    contiguous = graph_readout(h[sorted_order], graph_index[sorted_order], 4)
    torch.testing.assert_close(unsorted, contiguous)
    for g in range(4):
        nodes = h[graph_index == g]
        empty = torch.zeros(6, dtype=h.dtype)
        want = torch.cat([nodes.mean(0), nodes.max(0).values]) if len(nodes) else empty
        torch.testing.assert_close(unsorted[g], want)
    grads = [torch.autograd.grad(out.sin().sum(), h)[0] for out in (unsorted, contiguous)]
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize("backend", EACH_BACKEND)
def test_gin_layer_matches_dense_maths(backend: str) -> None:
    from fer_graph.models.sren import GINConv

    graphs = four_node_graph()
    layer = GINConv(in_features=2, out_features=3).double()
    with torch.no_grad():
        layer.eps.fill_(0.25)
    out = layer(batch_to_graph(graphs, backend), graphs.x)
    adj = torch.zeros(4, 4, dtype=torch.float64)
    adj[graphs.edge_index[1], graphs.edge_index[0]] = 1.0
    expected = layer.mlp((1.25 * torch.eye(4, dtype=torch.float64) + adj) @ graphs.x)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_residual_sren_adds_each_later_layers_input() -> None:
    graphs = four_node_graph()
    sren = SREN(in_features=2, hidden=3, num_layers=2, embed_dim=5, backend="torch", residual=True).double()
    sren.eval()
    graph = batch_to_graph(graphs, "torch")
    h0 = torch.relu(sren.layers[0](graph, sren.input_norm(graphs.x)))
    h1 = torch.relu(sren.layers[1](graph, h0)) + h0
    expected = sren.readout(graph_readout(h1, graphs.graph_index, 1))
    torch.testing.assert_close(sren(graphs), expected)


def test_mean_readout_is_the_mean_node_state_of_a_d_e_wide_last_layer(make_graphs) -> None:
    graphs = make_graphs([5, 1, 7])
    sren = SREN(in_features=12, hidden=8, num_layers=2, embed_dim=8, backend="torch", readout="mean").eval()
    assert sren.readout is None
    h = sren.input_norm(graphs.x)
    graph = batch_to_graph(graphs, "torch")
    for layer in sren.layers:
        h = torch.relu(layer(graph, h))
    want = torch.stack([h[graphs.graph_index == g].mean(dim=0) for g in range(3)])
    torch.testing.assert_close(sren(graphs), want)
    with pytest.raises(ValueError, match=r"sren_hidden \(16\) must equal embed_dim \(8\)"):
        SREN(in_features=12, hidden=16, num_layers=1, embed_dim=8, readout="mean")


@NEEDS_DGL
def test_auto_backend_falls_back_to_torch_when_dgl_is_installed_but_does_not_import() -> None:
    # DGL imports its tensor backend from DGLBACKEND; one that is not installed breaks the import
    code = (
        "import warnings, torch\n"
        "from fer_graph.models.sren import resolve_backend\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    print(resolve_backend('auto', torch.device('cpu')))\n"
        "    print(resolve_backend('auto', torch.device('cpu')))\n"
        "print(len(caught)); print(caught[0].message)\n"
        "try:\n"
        "    resolve_backend('dgl', torch.device('cpu'))\n"
        "except RuntimeError as err:\n"
        "    print(err)\n"
    )
    env = {**os.environ, "DGLBACKEND": "mxnet", "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert lines[:3] == ["torch", "torch", "1"], out.stderr[-2000:]
    assert lines[3].startswith("graph_backend auto: DGL is installed but does not import (")
    assert lines[3].endswith("); using the torch graph backend")
    assert lines[4].startswith("graph_backend 'dgl': DGL does not import (")


@NEEDS_DGL
def test_dgl_graph_has_the_edges_and_edge_ids_of_dgl_add_self_loop(make_graphs) -> None:
    import dgl

    graphs = make_graphs([3, 6], seed=4)
    src, dst = batch_to_graph(graphs, "dgl").graph.edges(order="eid")
    plain = dgl.graph((graphs.edge_index[0], graphs.edge_index[1]), num_nodes=graphs.num_nodes)
    want_src, want_dst = dgl.add_self_loop(plain).edges(order="eid")
    assert torch.equal(src, want_src) and torch.equal(dst, want_dst)
