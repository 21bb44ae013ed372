"""Face step settings from a config value: defaults, framings and one-line errors."""

from __future__ import annotations

import pytest

from fer_graph.errors import ConfigError
from fer_graph.faces.params import FRAMINGS, FaceParams


def test_true_gives_the_defaults_and_a_mapping_overrides_them():
    assert FaceParams.from_section(True) == FaceParams()
    params = FaceParams.from_section({"detector": "cnn", "select": "all", "size": 112, "eye_height": 0.42})
    assert (params.detector, params.select, params.size, params.eye_height) == ("cnn", "all", 112, 0.42)
    assert params.eye_distance == FRAMINGS["fer2013"]["eye_distance"]


def test_a_named_framing_fills_the_eye_fields_and_explicit_ones_win():
    params = FaceParams.from_section({"framing": "ferplus", "eye_center": 0.52})
    assert params.eye_distance == FRAMINGS["ferplus"]["eye_distance"] and params.eye_center == 0.52


def test_with_size_fills_only_an_unset_size():
    assert FaceParams().with_size(48).size == 48
    assert FaceParams(size=96).with_size(48).size == 96
    assert FaceParams(size=96).to_dict()["size"] == 96


@pytest.mark.parametrize("section, message", [
    ({"detectr": "hog"}, "data.face_crop.detectr: unknown key"),
    ({"detector": "haar"}, "data.face_crop.detector: 'haar' is one of hog, cnn"),
    ({"eye_distance": 1.5}, "data.face_crop.eye_distance: 1.5 is out of range"),
    ({"size": "big"}, "data.face_crop.size: expected int"),
    ({"upsample": True}, "data.face_crop.upsample: expected int"),
    ({"retry_upsample": 4}, "data.face_crop.retry_upsample: 4 is out of range"),
    ({"min_score": 3.0}, "data.face_crop.min_score: 3.0 is out of range"),
    ({"zoom_views": 0.5}, "data.face_crop.zoom_views: 0.5 is out of range"),
    ({"zoom_views": "wide"}, "data.face_crop.zoom_views: expected float"),
    ({"framing": "affectnet"}, "data.face_crop.framing: must be one of fer2013, ferplus"),
    ("yes", "data.face_crop: expected true, false or a mapping"),
])
def test_bad_values_name_the_key(section, message):
    with pytest.raises(ConfigError) as err:
        FaceParams.from_section(section)
    assert message in str(err.value)
