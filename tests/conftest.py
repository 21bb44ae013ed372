"""Shared test fixtures: real datasets from ../shared/datasets, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = (PROJECT_ROOT / ".." / "shared" / "datasets").resolve()


def _dataset_dir(name: str) -> Path:
    path = SHARED_DATASETS / name
    if not path.is_dir():
        pytest.skip(f"real dataset folder {path} is absent (tests read it from ../shared/datasets)")
    return path


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    """The real FER-2013 image-folder layout (train/ and test/ with one folder per class)."""
    return _dataset_dir("fer2013")


@pytest.fixture(scope="session")
def ckplus_dir() -> Path:
    """The real CK+48 flat layout (one folder per class, S<subject>_<seq>_<frame>.png)."""
    return _dataset_dir("ckplus48")


@pytest.fixture(scope="session")
def ferplus_dir() -> Path:
    """The real FERPlus tree as Microsoft's tools write it (FER2013Train/Valid/Test with label.csv)."""
    return _dataset_dir("ferplus")
