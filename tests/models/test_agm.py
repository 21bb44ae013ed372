"""AGM: pair resolution, bilinear sampling at node centres, and image -> graph coupling."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fer_graph.data.graph_batch import GraphBatch
from fer_graph.models import create_model
from fer_graph.models.agm import AGM, resolve_pairs, sample_at_centers

from model_helpers import TINY


def test_resolve_pairs_default_negative_and_all() -> None:
    assert resolve_pairs([[-1, -1]], 5, 2) == [(4, 1)]
    assert resolve_pairs([[0, 0], [-2, 1]], 4, 2) == [(0, 0), (2, 1)]
    assert resolve_pairs("all", 4, 4) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    # unequal counts: the last stages feed the last layers, so l = N stays paired
    assert resolve_pairs("all", 5, 2) == [(3, 0), (4, 1)]
    assert resolve_pairs("all", 2, 3) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("pairs,match", [([[5, 0]], "stage 5"), ([[0, -3]], "layer -3"),
                                         ([[0, 0], [0, 0]], "repeats"), ("last", "'all'"), ([[1]], "entries")])
def test_resolve_pairs_rejects_bad_pairs(pairs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        resolve_pairs(pairs, 5, 2)


def test_sampling_matches_grid_sample_per_graph() -> None:
    torch.manual_seed(0)
    maps = torch.randn(3, 5, 4, 6, dtype=torch.float64)
    centers = torch.rand(40, 2, dtype=torch.float64)
    centers[:4] = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    graph_index = torch.randint(0, 3, (40,))
    got = sample_at_centers(maps, centers, graph_index)
    for node in range(40):
        # grid_sample's grid is (x, y) = (col, row) in [-1, 1]
        grid = (centers[node].flip(0) * 2 - 1).view(1, 1, 1, 2)
        want = F.grid_sample(maps[graph_index[node]][None], grid, mode="bilinear",
                             padding_mode="border", align_corners=False).view(-1)
        torch.testing.assert_close(got[node], want)


def _two_node_graph() -> GraphBatch:
    return GraphBatch(x=torch.zeros(2, 12), edge_index=torch.tensor([[0, 1], [1, 0]]),
                      graph_index=torch.zeros(2, dtype=torch.long),
                      centers=torch.tensor([[0.1, 0.1], [0.9, 0.8]]), num_graphs=1)


def test_spatial_mode_guides_nodes_by_position_and_global_mode_does_not() -> None:
    torch.manual_seed(0)
    maps = {0: torch.randn(1, 8, 6, 6)}
    graphs = _two_node_graph()
    spatial = AGM(pairs=[(0, 1)], stage_channels=[8], sren_hidden=4, mode="spatial")
    glob = AGM(pairs=[(0, 1)], stage_channels=[8], sren_hidden=4, mode="global")
    glob.load_state_dict(spatial.state_dict())
    per_node = spatial(maps, graphs)[1]
    pooled = glob(maps, graphs)[1]
    assert per_node.shape == pooled.shape == (2, 4)
    assert not torch.allclose(per_node[0], per_node[1])
    torch.testing.assert_close(pooled[0], pooled[1])
    fc = spatial.fcs[0]
    torch.testing.assert_close(pooled[0], fc(maps[0].mean(dim=(2, 3)))[0])
    # FC applied before sampling equals FC of the sampled stage features
    sampled = sample_at_centers(maps[0], graphs.centers, graphs.graph_index)
    torch.testing.assert_close(per_node, fc(sampled), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("enabled,mode", [(False, "global"), (True, "global"), (True, "spatial")])
def test_spatial_components_depend_on_image_only_with_coupling(make_graphs, enabled: bool, mode: str) -> None:
    torch.manual_seed(0)
    model = create_model({**TINY, "agm": {"enabled": enabled, "mode": mode, "pairs": "all"}}).eval()
    graphs = make_graphs([3, 30], seed=3)
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        first = model(images, graphs).spatial_components
        second = model(images + torch.randn_like(images), graphs).spatial_components
    if enabled:
        assert (first - second).abs().max() > 1e-4
    else:
        torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_global_guidance_and_its_gradient_equal_the_dense_per_image_term() -> None:
    torch.manual_seed(3)
    graph_index = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    graphs = GraphBatch(x=torch.zeros(7, 2), edge_index=torch.zeros(2, 0, dtype=torch.long),
                        graph_index=graph_index, centers=torch.rand(7, 2), num_graphs=3)
    agm = AGM(pairs=[(0, 1)], stage_channels=[4], sren_hidden=5).double()
    maps = torch.randn(3, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(7, 5, dtype=torch.float64)
    (agm({0: maps}, graphs)[1] * upstream).sum().backward()
    # each node gets W mean(map of its image) + b: d/dW = sum_nodes upstream_n mean_n^T
    pooled = maps.detach().mean(dim=(2, 3))
    fc = agm.fcs[0]
    want_grad_w = upstream.T @ pooled[graph_index]
    torch.testing.assert_close(fc.weight.grad, want_grad_w)
    torch.testing.assert_close(fc.bias.grad, upstream.sum(dim=0))
    per_image = torch.zeros(3, 5, dtype=torch.float64).index_add_(0, graph_index, upstream)
    want_grad_maps = (per_image @ fc.weight.detach() / 6)[:, :, None, None].expand(3, 4, 2, 3)
    torch.testing.assert_close(maps.grad, want_grad_maps)
    with torch.no_grad():
        term = agm({0: maps}, graphs)[1]
    torch.testing.assert_close(term, pooled[graph_index] @ fc.weight.T + fc.bias)
