"""graph: GBRParams validation and round trip (BallGraph layout: see test_gbr_build)."""

from __future__ import annotations

import pytest

from fer_graph.granular import GBRParams


@pytest.mark.parametrize("field, value", [
    ("purity", 0.0), ("purity", 1.5), ("tau", -1.0), ("v_max", 0.0), ("purity_growth", 0.0),
    ("purity_cap", 0.0), ("purity_cap", 1.2), ("max_nodes", 0), ("image_size", 1),
    ("edge_rule", "corner"),
])
def test_invalid_parameters_are_rejected_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        GBRParams(**{field: value})


def test_params_round_trip_through_dict():
    params = GBRParams(purity=0.9, tau=10.0, v_max=20.0, image_size=None, edge_rule="overlap",
                       max_nodes=64, reference_stop=True)
    assert GBRParams.from_dict(params.to_dict()) == params
    with pytest.raises(KeyError, match="radius"):
        GBRParams.from_dict({"radius": 3})


def test_params_from_a_config_section_ignore_other_keys_and_need_every_field():
    wanted = GBRParams(purity=0.8, tau=12.0, image_size=64)
    section = {"store": "/tmp/g.h5", "num_workers": 4, "address": None, **wanted.to_dict()}
    assert GBRParams.from_section(section) == wanted
    del section["tau"]
    with pytest.raises(KeyError, match="tau"):
        GBRParams.from_section(section)
