"""create_model: defaults, key and size checks, state_dict round trips across backends."""

from __future__ import annotations

import pytest
import torch

from fer_graph.models import DEFAULT_CONFIG, create_model
from fer_graph.models.cs_gbsbf import CSGBSBF, VRENOnly
from fer_graph.models.factory import resolve_model_config, uses_graphs

from model_helpers import NEEDS_DGL, TINY


def test_defaults_follow_the_paper_where_it_sets_them() -> None:
    cfg = resolve_model_config({})
    assert cfg["backbone"] == "swin_base_patch4_window7_224" and cfg["img_size"] == 224
    assert (cfg["embed_dim"], cfg["component_dim"], cfg["num_components"]) == (1024, 128, 9)
    assert cfg["agm"] == {"enabled": True, "mode": "global", "pairs": [[-1, -1]]}
    assert resolve_model_config({"agm": {"mode": "spatial"}})["agm"]["pairs"] == [[-1, -1]]
    assert DEFAULT_CONFIG["agm"]["mode"] == "global"


@pytest.mark.parametrize("config,key", [({"backbon": "resnet18"}, "backbon"),
                                        ({"agm": {"enable": False}}, "agm.enable")])
def test_unknown_keys_raise_key_error_naming_them(config: dict, key: str) -> None:
    with pytest.raises(KeyError, match=key):
        create_model(config)


@pytest.mark.parametrize("config,match", [
    ({"name": "poster"}, "name"),
    ({"sren_layers": 0}, "sren_layers"),
    ({"embed_dim": 1.5}, "embed_dim"),
    ({"agm": {"pairs": [[-1, 7]]}}, "layer 7"),
    ({"agm": {"pairs": [[9, -1]]}}, "stage 9"),
    ({"agm": {"mode": "local"}}, "agm.mode"),
    ({"agm": {"enabled": False, "mode": "local"}}, "agm.mode"),
    ({"graph_backend": "pyg"}, "graph_backend"),
    ({"head_norm": "yes"}, "head_norm"),
])
def test_inconsistent_values_raise_value_error(config: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        create_model({**TINY, **config})


def test_builds_both_model_kinds() -> None:
    assert isinstance(create_model(TINY), CSGBSBF)
    assert isinstance(create_model({**TINY, "name": "vren_only"}), VRENOnly)
    assert create_model(TINY).chn.norm is None
    assert isinstance(create_model({**TINY, "head_norm": True}).chn.norm, torch.nn.BatchNorm1d)


@pytest.mark.parametrize("config,reads_graphs", [
    ({}, True),
    ({"srsn": False, "agm": {"enabled": False}}, False),
    ({"name": "vren_only"}, False),
    ({"name": "vren_only", "graph_guidance_stage": 0}, True),
])
def test_uses_graphs_says_whether_the_model_reads_them(make_graphs, config: dict, reads_graphs: bool) -> None:
    assert uses_graphs(config) is reads_graphs
    model = create_model({**TINY, **config}).eval()
    images = torch.randn(2, 3, 48, 48)
    if reads_graphs:
        with pytest.raises(ValueError, match="pass a GraphBatch"):
            model(images)
        assert model(images, make_graphs([3, 8])).logits.shape == (2, 7)
    else:
        assert model(images).logits.shape == (2, 7)


@NEEDS_DGL
def test_state_dict_round_trip_between_dgl_and_torch_backends(make_graphs) -> None:
    torch.manual_seed(0)
    source = create_model({**TINY, "graph_backend": "dgl", "agm": {"mode": "spatial"}}).eval()
    target = create_model({**TINY, "graph_backend": "torch", "agm": {"mode": "spatial"}}).eval()
    target.load_state_dict(source.state_dict())
    images, graphs = torch.randn(2, 3, 48, 48), make_graphs([1, 120])
    with torch.no_grad():
        want, got = source(images, graphs), target(images, graphs)
    torch.testing.assert_close(got.logits, want.logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.weights, want.weights, rtol=1e-5, atol=1e-6)
