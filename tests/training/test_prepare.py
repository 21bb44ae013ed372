"""prepare_graphs: reuse a store of this dataset only, rebuild others; data.max_missing."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from rich.console import Console

from fer_graph.data.store import GraphStore
from fer_graph.granular import builder_fingerprint
from fer_graph.training.config import ConfigError
from fer_graph.training.prepare import prepare_data, prepare_dataset, prepare_graphs

QUIET = Console(quiet=True)


def test_store_of_other_builder_code_is_rebuilt_and_current_one_reused(tiny_config, shared_data, tmp_path) -> None:
    copy = tmp_path / "graphs.h5"
    shutil.copy(shared_data["graphs.store"], copy)
    config = tiny_config(f"graphs.store={copy}")
    index = prepare_dataset(config, QUIET)
    with h5py.File(copy, "r+") as f:
        f.attrs["builder_fingerprint"] = "stale"
    stale_mtime = copy.stat().st_mtime_ns

    store = prepare_graphs(config, index, QUIET)
    assert store.builder_fingerprint == builder_fingerprint()
    assert copy.stat().st_mtime_ns != stale_mtime
    original = GraphStore(shared_data["graphs.store"])
    assert store.ids == original.ids
    for sample_id in store.ids[:5]:
        np.testing.assert_array_equal(store.get(sample_id).features, original.get(sample_id).features)
    rebuilt_mtime = copy.stat().st_mtime_ns
    store.close()

    again = prepare_graphs(config, index, QUIET)
    assert Path(again.path).stat().st_mtime_ns == rebuilt_mtime


def _recorded() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, width=1000, color_system=None), text


def test_dataset_copied_to_another_root_is_rebuilt_not_reused(tiny_config, shared_data, tmp_path) -> None:
    # copytree keeps sizes and mtimes: only the recorded root tells the copy from the original
    root = tmp_path / "moved"
    shutil.copytree(shared_data["data.root"], root)
    copy = tmp_path / "graphs.h5"
    shutil.copy(shared_data["graphs.store"], copy)
    config = tiny_config(f"data.root={root}", f"graphs.store={copy}")
    console, text = _recorded()
    store = prepare_graphs(config, prepare_dataset(config, QUIET), console)
    assert f"was built from {Path(shared_data['data.root']).resolve()}, not from {root.resolve()}" in text.getvalue()
    assert store.root == str(root.resolve())
    store.close()


def test_missing_graphs_over_the_allowance_refuse_to_start_and_within_it_are_counted(
        tiny_config, shared_data, tmp_path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(shared_data["data.root"], root)
    broken = sorted((root / "train").rglob("*.png"))[3]
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    store_path = tmp_path / "graphs.h5"
    allowed = tiny_config(f"data.root={root}", f"graphs.store={store_path}", "data.max_missing=1")
    index, store, folds = prepare_data(allowed, QUIET)
    assert store.missing_graphs == {"train": 1}
    assert str(broken.relative_to(root)) not in {s.id for s in index.samples}
    assert len(index) == len(list(root.rglob("*.png"))) - 1
    assert str(broken.relative_to(root)) not in folds[0].train_ids
    store.close()

    strict = tiny_config(f"data.root={root}", f"graphs.store={store_path}")
    console, text = _recorded()
    with pytest.raises(ConfigError) as err:
        prepare_data(strict, console)
    # retried first (the allowance is exceeded), then refused in one line naming store, count, file
    assert f"store {store_path}: 1 image(s) failed when it was built (first: {broken.relative_to(root)}), retrying them" in text.getvalue()
    message = str(err.value)
    assert "\n" not in message and str(store_path) in message and str(broken) in message
    assert "no graph for 1 train image(s)" in message and "0 allowed" in message
