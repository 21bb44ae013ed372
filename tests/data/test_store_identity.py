"""A store belongs to one dataset (root + per-file fingerprints), failures are retried, and
concurrent builds of one store are safe: real files, real HDF5, real Ray, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from filelock import FileLock, Timeout
from PIL import Image

from fer_graph.data.build import build_graph_store
from fer_graph.data.readers import discover, load_image
from fer_graph.data.store import GraphStore
from fer_graph.data.store_lock import lock_path
from fer_graph.granular.build import build_graph
from test_build import TOOLS, _assert_same_contents, _face, ray_runtime  # noqa: F401 (autouse fixture)

CHUNK = 2


def _faces(root: Path, count: int = 6, offset: int = 0, ext: str = "png") -> Path:
    for i in range(count):
        folder = root / ("happy", "sad")[i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_face(i + offset)).save(folder / f"f{i}.{ext}")
    return root


def _build(root: Path, out: Path, messages: list[str] | None = None):
    log = (messages.append if messages is not None else lambda m: None)
    return build_graph_store(discover(root), out, num_workers=2, progress=False, chunk_size=CHUNK,
                             log=log)


def _assert_graphs_of(out: Path, root: Path) -> None:
    """Every stored graph is the one of the image now at root (independently rebuilt)."""
    index = discover(root)
    with GraphStore(out) as store:
        assert store.ids == [s.id for s in index.samples] and not store.failures
        for s in index.samples:
            assert np.array_equal(store.get(s.id).boxes, build_graph(load_image(s.source)).boxes), s.id


def test_changed_file_is_rebuilt_alone_with_a_message_naming_it(tmp_path):
    root, out = _faces(tmp_path / "ds"), tmp_path / "g.h5"
    first = _build(root, out)
    assert first.chunks_reused == 0 and first.chunks_total == 3
    messages: list[str] = []
    again = _build(root, out, messages)
    assert again.chunks_reused == 3 and messages == [f"store {out} is current (6 graphs), nothing to build"]
    Image.fromarray(_face(77)).save(root / "sad/f3.png")  # other pixels, same name
    messages.clear()
    summary = _build(root, out, messages)
    assert messages == [f"store {out}: 1 file(s) changed since it was built (first: sad/f3.png), rebuilding them"]
    assert summary.chunks_reused == 2  # only the changed file's chunk was built
    _assert_graphs_of(out, root)


def test_other_root_with_same_names_sizes_and_mtimes_is_rebuilt(tmp_path):
    # PGM files of one size have one file size whatever the pixels, and the mtimes are copied:
    # B's fingerprints equal A's, only the root tells the datasets apart.
    a, b = _faces(tmp_path / "a", ext="pgm"), _faces(tmp_path / "b", offset=50, ext="pgm")
    for path in a.rglob("*.pgm"):
        twin = b / path.relative_to(a)
        assert twin.stat().st_size == path.stat().st_size
        os.utime(twin, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    out = tmp_path / "g.h5"
    _build(a, out)
    messages: list[str] = []
    summary = _build(b, out, messages)
    assert messages == [f"store {out} was built from {a.resolve()}, not from {b.resolve()}, rebuilding it"]
    assert summary.chunks_reused == 0
    _assert_graphs_of(out, b)
    with GraphStore(out) as store:
        assert store.root == str(b.resolve())


def test_failed_file_is_retried_and_a_fixed_one_gets_its_graph(tmp_path):
    root, out = _faces(tmp_path / "ds"), tmp_path / "g.h5"
    (root / "happy/f2.png").write_bytes(b"not a PNG at all")
    first = _build(root, out)
    assert [r[0] for r in first.failures] == ["happy/f2.png"]
    messages: list[str] = []
    again = _build(root, out, messages)  # unchanged: retried all the same, and fails again
    assert messages == [f"store {out}: 1 image(s) failed when it was built (first: happy/f2.png), retrying them"]
    assert [r[0] for r in again.failures] == ["happy/f2.png"] and again.chunks_reused == 2
    Image.fromarray(_face(2)).save(root / "happy/f2.png")  # fixed
    messages.clear()
    fixed = _build(root, out, messages)
    assert messages == [f"store {out}: 1 file(s) changed since it was built (first: happy/f2.png), rebuilding them"]
    assert not fixed.failures
    _assert_graphs_of(out, root)


def test_store_without_fingerprints_is_rebuilt_with_a_message(tmp_path):
    root, out = _faces(tmp_path / "ds"), tmp_path / "g.h5"
    _build(root, out)
    with h5py.File(out, "r+") as f:  # what a format-1 store lacks
        del f["graphs/fingerprints"], f["failures/fingerprints"]
    messages: list[str] = []
    summary = _build(root, out, messages)
    assert messages == [f"store {out} records no image fingerprints (an older fer_graph wrote it), rebuilding it"]
    assert summary.chunks_reused == 0
    with GraphStore(out) as store:
        assert store.fingerprints == {s.id: f"{Path(s.source).stat().st_size}:{Path(s.source).stat().st_mtime_ns}"
                                      for s in discover(root).samples}


def test_two_processes_building_one_store_at_once_end_with_one_complete_file(tmp_path):
    root = _faces(tmp_path / "ds", count=8)
    out = tmp_path / "shared" / "g.h5"
    command = [sys.executable, str(TOOLS / "build_graphs.py"), str(root), str(out),
               "--workers", "1", "--chunk-size", str(CHUNK), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(TOOLS.parent)}
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    errs = [err for _, err in outputs]
    # One built, the other waited for the lock, then found the store current.
    waited = [e for e in errs if f"waiting for {lock_path(out)}" in e]
    assert len(waited) == 1, errs
    assert f"store {out} is current (8 graphs), nothing to build" in waited[0]
    single = tmp_path / "single.h5"
    _build(root, single)
    _assert_same_contents(out, single)
    assert sorted(p.name for p in out.parent.iterdir()) == [".g.h5.lock", "g.h5"]  # no temporaries


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    store = tmp_path / "g.h5"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from fer_graph.data.store_lock import store_lock\n"
        f"with store_lock({str(store)!r}):\n    print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(TOOLS.parent)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Timeout):
            FileLock(lock_path(store)).acquire(timeout=0.5)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        start = time.monotonic()
        lock = FileLock(lock_path(store))
        lock.acquire(timeout=10)
        assert time.monotonic() - start < 5  # released by the kernel, no timeout waited out
        lock.release()
    finally:
        holder.kill()
        holder.wait()
