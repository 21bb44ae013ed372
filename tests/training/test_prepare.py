"""prepare_graphs: reuse a current graph store, rebuild one written by other builder code."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
from rich.console import Console

from fer_graph.data.store import GraphStore
from fer_graph.granular import builder_fingerprint
from fer_graph.training.prepare import prepare_dataset, prepare_graphs

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
