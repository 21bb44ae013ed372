"""Tiny CS-GBSBF checkpoints (random weights, 48 px) saved the way training saves them."""

from __future__ import annotations

from pathlib import Path

import pytest
from inference_helpers import TINY_MODEL, make_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """CS-GBSBF with a FER-VGG-small backbone, K=4, RGB input at 48 px."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), dict(TINY_MODEL))


@pytest.fixture(scope="session")
def loaded(tiny_checkpoint):
    from fer_graph.inference.loading import load_model

    return load_model(tiny_checkpoint)
