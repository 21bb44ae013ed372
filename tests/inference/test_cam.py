"""Component Grad-CAMs: checked against independent computations, input-dependent, any backbone."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from inference_helpers import TINY_MODEL, face_like, make_checkpoint
from PIL import Image

from fer_graph.data.dataset import collate_batch
from fer_graph.inference.cam import component_maps
from fer_graph.inference.loading import load_model
from fer_graph.inference.predict import Predictor

ROOT = Path(__file__).resolve().parents[2]


def _batch(loaded, image, copies=1, dtype=torch.float32):
    graph = loaded.graph_for(image)
    images, graphs, _ = collate_batch([(loaded.tensor_for(image), graph, 0)] * copies)
    graphs.x, graphs.centers = graphs.x.to(dtype), graphs.centers.to(dtype)
    return images.to(dtype), graphs


def test_visual_maps_equal_grad_cam_of_the_feature_map(loaded):
    """For FER-VGG the model's feature_map output is the stage tensor itself, so Grad-CAM can
    be recomputed from it directly, without hooks."""
    image = face_like((60, 60), 21)
    maps = component_maps(loaded, image)
    images, graphs = _batch(loaded, image)
    out = loaded.model(images, graphs)
    weights = out.weights.detach()[0]
    for k in range(maps.num_components):
        target = weights[k] * out.component_logits[0, k, maps.target]
        grad = torch.autograd.grad(target, out.feature_map, retain_graph=True)[0][0]
        expected = (grad.mean(dim=(1, 2))[:, None, None] * out.feature_map[0].detach()).sum(0)
        assert expected.abs().max() > 0
        np.testing.assert_allclose(maps.visual[k], expected.numpy(), rtol=1e-4,
                                   atol=1e-6 * np.abs(expected.numpy()).max())


def test_node_maps_match_finite_differences(loaded):
    """Graph Grad-CAM weights are mean gradients over nodes. Shifting channel j of every
    last-layer node embedding by eps moves the fusion score by eps * N * alpha_j (the mean/max
    readout shifts exactly), so central differences in float64 give alpha independently."""
    image = face_like((60, 60), 22)
    maps = component_maps(loaded, image)
    model = copy.deepcopy(loaded.model).double()
    hidden = model.sren.hidden
    eps = 1e-4
    # copy 2j shifts channel j up, copy 2j+1 down
    shifts = torch.zeros(2 * hidden, hidden, dtype=torch.float64)
    shifts[0::2] = torch.eye(hidden) * eps
    shifts[1::2] = -torch.eye(hidden) * eps
    calls: list[torch.Tensor] = []

    def nudge(_module, _inputs, out):
        calls.append(out)
        if len(calls) % model.sren.num_layers == 0:  # the last layer's activation
            out = out + shifts[graphs.graph_index]
            calls[-1] = out
        return out

    images, graphs = _batch(loaded, image, copies=2 * hidden, dtype=torch.float64)
    handle = model.sren.activation.register_forward_hook(nudge)
    try:
        with torch.no_grad():
            out = model(images, graphs)
    finally:
        handle.remove()
    nodes_per_graph = graphs.num_nodes // (2 * hidden)
    base = calls[-1][:nodes_per_graph] - shifts[0]  # copy 0's embeddings without its shift
    for k in range(maps.num_components):
        score = (out.visual_components[:, k] * out.spatial_components[:, k]).sum(dim=1)
        alpha = (score[0::2] - score[1::2]) / (2 * eps) / nodes_per_graph
        expected = (base @ alpha).numpy()
        assert np.abs(expected).max() > 0
        assert maps.nodes[k].shape == (nodes_per_graph,)
        np.testing.assert_allclose(maps.nodes[k], expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_maps_are_not_constant_and_follow_the_input(loaded):
    a = component_maps(loaded, face_like((48, 48), 31))
    b = component_maps(loaded, face_like((48, 48), 32, colour=True))
    assert a.visual.shape == (4, 3, 3) and a.visual_upsampled.shape == (4, 48, 48)
    assert a.nodes.shape == (4, a.graph.num_nodes)
    for k in range(a.num_components):
        assert a.visual[k].std() > 0 and a.nodes[k].std() > 0
    assert not np.allclose(a.visual, b.visual)
    # each image's node maps live on its own graph (91 and 87 nodes for these two faces)
    assert b.nodes.shape == (4, b.graph.num_nodes) and b.graph.num_nodes != a.graph.num_nodes
    assert a.weights.sum() == pytest.approx(1.0, abs=1e-5)


def _brightness_detector(tmp_path: Path):
    """A tiny CS-GBSBF (AGM off) whose visual path is made monotone: every convolution and
    linear layer averages its inputs (non-negative weights summing to one), biases are zero
    and BatchNorm is the identity. A stage activation then grows with the brightness in its
    receptive field and every component logit grows with every activation, so the visual
    Grad-CAM of a black image with one bright square must peak on the square's cell."""
    loaded = load_model(make_checkpoint(tmp_path, dict(TINY_MODEL, agm={"enabled": False})))

    def averaging(weight: torch.Tensor, fan_in) -> None:
        weight.abs_().div_(weight.sum(dim=fan_in, keepdim=True))

    model = loaded.model
    with torch.no_grad():
        for part in (model.vren, model.vrsn, model.chn):
            for name, param in part.named_parameters():
                if "bias" in name:
                    param.zero_()
            for module in part.modules():
                if isinstance(module, torch.nn.Conv2d):
                    averaging(module.weight, (1, 2, 3))
                elif isinstance(module, torch.nn.Linear):
                    averaging(module.weight, 1)
                elif isinstance(module, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                    module.running_mean.zero_()
                    module.running_var.fill_(1.0)
                    module.weight.fill_(1.0)
                    module.bias.zero_()
        averaging(model.vrsn.weight1, 0)  # (D_e, K, hidden): fan-in first
        averaging(model.vrsn.weight2, 1)  # (K, hidden, D_s)
    return loaded


@pytest.mark.parametrize("cell", [(0, 0), (0, 2), (1, 1), (2, 2)])
def test_visual_maps_peak_where_the_signal_is(tmp_path, cell):
    detector = _brightness_detector(tmp_path)
    image = np.zeros((48, 48, 3), np.uint8)
    row, col = cell
    image[16 * row + 3:16 * row + 13, 16 * col + 3:16 * col + 13] = 255  # inside one 16 px cell
    maps = component_maps(detector, image, target=0)
    assert maps.visual.shape == (4, 3, 3)
    for k in range(4):
        assert maps.visual[k].max() > 0
        assert np.unravel_index(maps.visual[k].argmax(), (3, 3)) == cell
        # and the map falls off with the distance from the square (3x3 grid, Chebyshev)
        rows, cols = np.mgrid[0:3, 0:3]
        far = np.maximum(abs(rows - row), abs(cols - col)) == 2
        if far.any():
            assert maps.visual[k][far].max() < 0.1 * maps.visual[k].max()
        peak = np.unravel_index(maps.visual_upsampled[k].argmax(), (48, 48))
        assert 16 * row <= peak[0] < 16 * row + 16 and 16 * col <= peak[1] < 16 * col + 16


def test_probabilities_match_prediction(loaded):
    image = face_like((90, 70), 33, colour=True)
    maps = component_maps(loaded, image)
    np.testing.assert_allclose(maps.probabilities, Predictor(loaded).predict_images([image])[0], atol=1e-5)
    assert maps.target == int(np.argmax(maps.probabilities))
    other = (maps.target + 1) % 7
    assert component_maps(loaded, image, target=other).target == other


def test_swin_backbone_gets_gradients_through_its_stage(tmp_path):
    """Swin's returned feature_map is a side copy of its last stage; the maps must still be
    the gradients of the classification path, not zeros."""
    model = dict(TINY_MODEL, backbone="swin_tiny_patch4_window7_224", embed_dim=32)
    swin = load_model(make_checkpoint(tmp_path, model))
    maps = component_maps(swin, face_like((48, 48), 41))
    assert maps.visual.shape[0] == 4
    assert all(np.abs(maps.visual[k]).max() > 0 and maps.visual[k].std() > 0 for k in range(4))


def test_vren_only_checkpoint_has_no_components(tmp_path):
    baseline = load_model(make_checkpoint(tmp_path, dict(TINY_MODEL, name="vren_only")))
    assert not baseline.uses_graphs
    with pytest.raises(ValueError, match="no components"):
        component_maps(baseline, face_like((48, 48), 1))
    probs = Predictor(baseline).predict_images([face_like((48, 48), 1)])
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)


def _tool(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    sys.modules.pop("visualize", None)
    import visualize

    return visualize


def test_visualize_tool_writes_pngs(tiny_checkpoint, tmp_path, monkeypatch):
    tool = _tool(monkeypatch)
    face = tmp_path / "face.png"
    Image.fromarray(face_like((64, 64), 51, colour=True)).save(face)
    assert tool.main(["components", str(tiny_checkpoint), str(face), str(tmp_path / "c.png"),
                      "--dpi", "50", "--target", "happy"]) == 0
    with Image.open(tmp_path / "c.png") as png:
        # 4 components: (4 + 2) panels of 1.8 in wide, two rows of 1.8 in plus a 0.9 in title band
        assert png.size == (round(1.8 * 6 * 50), round((1.8 * 2 + 0.9) * 50))
    assert tool.main(["graph", str(face), str(tmp_path / "g.png"), "--feature", "variance",
                      "--checkpoint", str(tiny_checkpoint), "--dpi", "60"]) == 0
    with Image.open(tmp_path / "g.png") as png:
        assert png.size[0] > 100 and png.size[1] > 100
    assert tool.main(["components", str(tiny_checkpoint), str(tmp_path / "nope.png"),
                      str(tmp_path / "x.png")]) == 1
