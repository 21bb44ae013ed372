"""The whole network: shapes, gradients to every part, ablations, and learning a tiny problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_graph.data.graph_batch import collate_graphs
from fer_graph.models import CSGBSBFLoss, create_model

from model_helpers import TINY, random_ball_graph


@pytest.mark.parametrize("sizes", [[1], [1, 300, 17]])
def test_output_shapes_and_dtypes(make_graphs, sizes: list[int]) -> None:
    batch = len(sizes)
    model = create_model({**TINY, "num_classes": 5})
    out = model(torch.randn(batch, 3, 48, 48), make_graphs(sizes))
    assert out.logits.shape == (batch, 5)
    assert out.weights.shape == (batch, 4)
    assert out.visual_components.shape == out.spatial_components.shape == (batch, 4, 16)
    assert out.component_logits.shape == (batch, 4, 5)
    assert out.feature_map.shape == (batch, 96, 2, 2)
    parts = (out.logits, out.weights, out.visual_components, out.spatial_components, out.component_logits)
    for tensor in parts:
        assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all()
    torch.testing.assert_close(out.component_logits, model.chn(out.visual_components))
    torch.testing.assert_close(out.weights.sum(1), torch.ones(batch))


def test_gradients_reach_every_part(make_graphs) -> None:
    model = create_model({**TINY, "agm": {"mode": "spatial", "pairs": "all"}})
    out = model(torch.randn(2, 3, 48, 48), make_graphs([5, 60]))
    total, _ = CSGBSBFLoss()(out, torch.tensor([0, 3]))
    total.backward()
    for part in ("vren", "sren", "agm", "vrsn", "srsn", "chn"):
        grads = [p.grad for p in getattr(model, part).parameters()]
        assert all(g is not None for g in grads), part
        assert sum(g.abs().sum() for g in grads) > 0, part
    # SRSN reaches the loss only through RFN's weights W
    assert model.srsn.weight.grad.abs().sum() > 0


def test_ablations_without_srsn_and_vren_only(make_graphs) -> None:
    images = torch.randn(3, 3, 48, 48)
    model = create_model({**TINY, "srsn": False, "agm": {"enabled": False}})
    assert model.sren is None and model.agm is None and model.srsn is None
    out = model(images, None)
    assert out.spatial_components is None and out.weights.shape == (3, 4)
    CSGBSBFLoss()(out, torch.tensor([0, 1, 2]))[0].backward()
    assert model.rfn.query.grad.abs().sum() > 0
    baseline = create_model({"name": "vren_only", "backbone": "resnet18", "img_size": 48, "num_classes": 6})
    out = baseline(images, make_graphs([2, 3, 4]))
    assert out.logits.shape == (3, 6)
    assert out.weights is None and out.visual_components is None and out.component_logits is None
    with pytest.raises(ValueError, match="srsn"):
        create_model({**TINY, "srsn": False})


def test_forward_checks_graph_batch(make_graphs) -> None:
    model = create_model(TINY)
    with pytest.raises(ValueError, match="GraphBatch"):
        model(torch.randn(2, 3, 48, 48), None)
    with pytest.raises(ValueError, match="2 images but 3 graphs"):
        model(torch.randn(2, 3, 48, 48), make_graphs([2, 2, 2]))
    bad = create_model({**TINY, "node_features": 10})
    with pytest.raises(ValueError, match="12 node features"):
        bad(torch.randn(1, 3, 48, 48), make_graphs([4]))


def test_a_few_steps_reduce_the_loss_on_a_separable_problem(make_graphs) -> None:
    torch.manual_seed(0)
    model = create_model({**TINY, "num_classes": 2})
    targets = torch.tensor([0, 1] * 4)
    # class 1 images are bright, class 0 dark
    images = torch.randn(8, 3, 48, 48) * 0.1 + (targets.float() * 2 - 1).view(8, 1, 1, 1)
    graphs = make_graphs([20] * 8, seed=4)
    loss_fn = CSGBSBFLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        total, _ = loss_fn(model(images, graphs), targets)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_graph_head_concat_reaches_logits_and_keeps_the_component_identity(make_graphs) -> None:
    model = create_model({**TINY, "graph_head": "concat", "head_norm": True})
    model.eval()
    graphs = make_graphs([6, 20, 3])
    out = model(torch.randn(3, 3, 48, 48), graphs)
    assert model.chn.fc.in_features == 2 * TINY["component_dim"]
    # CHN is affine in eval and W sums to one: the logits are the W-mix of the component logits
    mixed = torch.einsum("bk,bkc->bc", out.weights, out.component_logits)
    torch.testing.assert_close(out.logits, mixed, rtol=1e-5, atol=1e-5)
    # the graph now reaches the logits directly: other graphs, other logits even at fixed W
    other = model(torch.randn(3, 3, 48, 48), make_graphs([6, 20, 3], seed=5))
    assert not torch.allclose(other.logits, out.logits)


def test_graph_variants_train_with_gradients_everywhere(make_graphs) -> None:
    config = {**TINY, "graph_head": "concat", "graph_guidance_stage": 1, "sren_conv": "gin",
              "sren_residual": True, "sren_layers": 3}
    model = create_model(config)
    out = model(torch.randn(2, 3, 48, 48), make_graphs([5, 40]))
    CSGBSBFLoss()(out, torch.tensor([0, 3]))[0].backward()
    for part in ("vren", "sren", "gvg", "graph_head", "chn"):
        grads = [p.grad for p in getattr(model, part).parameters()]
        assert all(g is not None for g in grads), part
    # GVG's 1x1 conv starts at zero, so only its projection has a gradient at the first step
    assert model.gvg.project.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="graph_head"):
        create_model({**TINY, "graph_head": "gated"})
    with pytest.raises(ValueError, match="stage 7 out of range"):
        create_model({**TINY, "graph_guidance_stage": 7})
    with pytest.raises(ValueError, match="need srsn"):
        create_model({**TINY, "srsn": False, "agm": {"enabled": False}, "graph_head": "concat"})


def test_vren_only_with_gvg_is_the_backbone_guided_by_graphs(make_graphs) -> None:
    torch.manual_seed(0)
    plain_config = {"name": "vren_only", "backbone": "resnet18", "img_size": 48, "num_classes": 6}
    plain = create_model(plain_config).eval()
    guided = create_model({**plain_config, "graph_guidance_stage": 1, "sren_hidden": 8}).eval()
    assert plain.gvg is None and guided.gvg.stage == 1
    assert set(guided.state_dict()) - set(plain.state_dict()) == {
        f"gvg.{name}" for name in guided.gvg.state_dict()}
    guided.load_state_dict(plain.state_dict(), strict=False)
    rng = np.random.default_rng(0)
    faces = [random_ball_graph(n, rng) for n in (4, 30, 9)]
    images, graphs = torch.randn(3, 3, 48, 48), collate_graphs(faces)
    # GVG's projection starts at zero: the guided model starts as the plain backbone
    torch.testing.assert_close(guided(images, graphs).logits, plain(images).logits)
    torch.nn.init.normal_(guided.gvg.project.weight)
    out = guided(images, graphs)
    assert not torch.allclose(out.logits, plain(images).logits)
    # the guidance is per image: another graph for the first face changes its logits only
    swapped_first = guided(images, collate_graphs([random_ball_graph(25, rng)] + faces[1:]))
    assert not torch.allclose(swapped_first.logits[0], out.logits[0])
    torch.testing.assert_close(swapped_first.logits[1:], out.logits[1:], rtol=1e-4, atol=1e-5)
    guided.train()
    guided(images, graphs).logits.square().sum().backward()
    assert guided.gvg.conv.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="graph guidance .* pass a GraphBatch"):
        guided(images)
