"""Fixtures: the tiny experiment config with its synthetic data and graphs made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from fer_graph.training.config import load_config
from fer_graph.training.prepare import prepare_data
from training_helpers import TINY



@pytest.fixture(scope="session")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Synthetic images and their graph store, built once (Ray actors) and reused by every test."""
    root = tmp_path_factory.mktemp("shared")
    paths = {"data.root": str(root / "synthetic"), "graphs.store": str(root / "graphs.h5")}
    config = load_config(TINY, [f"{k}={v}" for k, v in paths.items()] + [f"experiment.output_dir={root}"])
    prepare_data(config, Console(quiet=True))
    return paths


@pytest.fixture()
def tiny_config(shared_data: dict[str, str], tmp_path: Path):
    """A loader of the tiny config on the shared data, writing under this test's tmp_path."""

    def load(*overrides: str) -> dict:
        base = [f"{k}={v}" for k, v in shared_data.items()] + [f"experiment.output_dir={tmp_path}"]
        return load_config(TINY, base + list(overrides))

    return load


@pytest.fixture()
def arms(tmp_path: Path) -> list[Path]:
    """Two tiny study arms: the paper's head and the concatenated graph head."""
    a = tmp_path / "configs" / "paper.yaml"
    a.parent.mkdir()
    a.write_text(f"base: {TINY}\n")
    b = tmp_path / "configs" / "concat.yaml"
    b.write_text(f"base: {TINY}\nmodel: {{graph_head: concat}}\n")
    return [a, b]
