"""GVG: painting node values over their rectangles (against a per-cell loop) and the guided VREN."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.data.graph_batch import collate_graphs
from fer_graph.granular.graph import BallGraph
from fer_graph.models.gvg import GVG, paint_nodes
from fer_graph.models.sren import batch_to_graph
from fer_graph.models.vren import VREN

from model_helpers import random_ball_graph


def painted_by_loop(values, boxes, graph_index, num_graphs, height, width) -> np.ndarray:
    out = np.zeros((num_graphs, values.shape[1], height, width))
    for b in range(num_graphs):
        nodes = np.flatnonzero(graph_index == b)
        for i in range(height):
            for j in range(width):
                y, x = (i + 0.5) / height, (j + 0.5) / width
                hit = [n for n in nodes if boxes[n, 0] <= y < boxes[n, 2] and boxes[n, 1] <= x < boxes[n, 3]]
                if hit:
                    out[b, :, i, j] = values[hit].mean(axis=0)
    return out


def test_paint_nodes_matches_a_per_cell_loop() -> None:
    rng = np.random.default_rng(0)
    graphs = collate_graphs([random_ball_graph(n, rng) for n in (1, 9, 30)])
    values = torch.randn(graphs.num_nodes, 5, dtype=torch.float64)
    boxes = graphs.boxes.double()
    got = paint_nodes(values, boxes, graphs.graph_index, graphs.num_graphs, 12, 7)
    want = painted_by_loop(values.numpy(), boxes.numpy(), graphs.graph_index.numpy(), 3, 12, 7)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def painted_by_cover_matmul(values, boxes, graph_index, num_graphs, height, width) -> torch.Tensor:
    """The dense form paint_nodes replaced: a (B, N, h*w) cover matrix times the padded node values."""
    counts = torch.bincount(graph_index, minlength=num_graphs)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(values.shape[0]) - starts[graph_index]
    padded_values = values.new_zeros(num_graphs, int(counts.max()), values.shape[1])
    padded_values[graph_index, slot] = values
    padded_boxes = boxes.new_zeros(num_graphs, int(counts.max()), 4)
    padded_boxes[graph_index, slot] = boxes
    rows = (torch.arange(height, dtype=boxes.dtype) + 0.5) / height
    cols = (torch.arange(width, dtype=boxes.dtype) + 0.5) / width
    in_rows = (rows >= padded_boxes[..., 0:1]) & (rows < padded_boxes[..., 2:3])
    in_cols = (cols >= padded_boxes[..., 1:2]) & (cols < padded_boxes[..., 3:4])
    cover = (in_rows.unsqueeze(-1) & in_cols.unsqueeze(-2)).flatten(2).to(values.dtype)
    total = torch.bmm(cover.transpose(1, 2), padded_values)
    hits = cover.sum(dim=1).clamp(min=1).unsqueeze(-1)
    return (total / hits).transpose(1, 2).reshape(num_graphs, values.shape[1], height, width)


@pytest.mark.parametrize("side", [6, 12, 24])
def test_paint_nodes_keeps_the_bytes_of_the_dense_form_under_bf16_autocast(side: int) -> None:
    # recorded GVG runs trained with the dense form under bf16 autocast reproduce only if
    # forward and backward give the same bits
    rng = np.random.default_rng(side)
    graphs = collate_graphs([random_ball_graph(n, rng) for n in (3, 40, 120, 192)])
    values = torch.randn(graphs.num_nodes, 16)
    upstream = torch.randn(graphs.num_graphs, 16, side, side)
    results = []
    for paint in (painted_by_cover_matmul, paint_nodes):
        leaf = values.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            painted = paint(leaf, graphs.boxes, graphs.graph_index, graphs.num_graphs, side, side)
        (painted.float() * upstream).sum().backward()
        results.append((painted, leaf.grad))
    (dense, dense_grad), (painted, grad) = results
    assert painted.dtype == dense.dtype and torch.equal(painted, dense)
    assert torch.count_nonzero(grad) > 0 and torch.equal(grad, dense_grad)


def test_collated_boxes_are_the_rectangles_as_fractions() -> None:
    # one 2x3 rectangle at rows 4-5, cols 6-8 of a 10x20 frame, and a single pixel at (0, 0)
    features = np.zeros((2, 12), np.float32)
    features[0, :4] = [4.5, 7.0, 1.0, 0.5]   # row, col, half_width, half_height
    graph = BallGraph(boxes=np.array([[4, 6, 5, 8], [0, 0, 0, 0]], np.int32), features=features,
                      edges=np.array([[0, 1]], np.int32), image_shape=(10, 20))
    boxes = collate_graphs([graph]).boxes.numpy()
    np.testing.assert_allclose(boxes[0], [4 / 10, 6 / 20, 6 / 10, 9 / 20], rtol=1e-6)
    np.testing.assert_allclose(boxes[1], [0, 0, 1 / 10, 1 / 20], rtol=1e-6)


def test_gvg_starts_at_zero_and_learns() -> None:
    rng = np.random.default_rng(1)
    graphs = collate_graphs([random_ball_graph(n, rng) for n in (4, 12)])
    gvg = GVG(in_features=12, hidden=8, stage_channels=6)
    stage = torch.randn(2, 6, 5, 5)
    term = gvg(batch_to_graph(graphs, "torch"), graphs, stage)
    assert term.shape == stage.shape and torch.count_nonzero(term) == 0
    term.square().sum().backward()
    assert gvg.project.weight.grad is not None


def test_vren_adjust_replaces_a_stage_output_for_one_call() -> None:
    vren = VREN(backbone="test_resnet", img_size=48, in_chans=3, embed_dim=None)
    images = torch.randn(2, 3, 48, 48)
    vren.eval()
    plain, plain_maps = vren.forward_features(images)
    same, _ = vren.forward_features(images, adjust={1: lambda m: m})
    torch.testing.assert_close(same, plain)
    shifted, maps = vren.forward_features(images, [1], adjust={1: lambda m: m + 1.0})
    assert not torch.allclose(shifted, plain)
    again, _ = vren.forward_features(images)  # the hook is gone after the call
    torch.testing.assert_close(again, plain)
