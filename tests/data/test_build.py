"""Graph stores built by real Ray actors from real image files in tmp_path."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import ray
from PIL import Image

from fer_graph.data import build as build_module
from fer_graph.data.build import build_graph_store
from fer_graph.data.build_ray import ChunkBuilder, chunk_items
from fer_graph.data.readers import DatasetIndex, discover, load_image
from fer_graph.data.shards import save_shard
from fer_graph.data.store import GraphStore
from fer_graph.granular.build import build_graph
from fer_graph.granular.graph import GBRParams

TOOLS = Path(__file__).resolve().parents[2] / "tools"
EXACT = [0, 1, 2, 3, 7, 8, 10, 11]  # geometry and extrema columns are stored losslessly
CHUNK = 5


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    """One local Ray runtime (2 CPUs) for the module; build_graph_store reuses it."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _face(seed: int, size: int = 48) -> np.ndarray:
    """A smooth random image (blobs, like a blurry face) so balls are not single pixels."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 6), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC))


def _dataset(root: Path, count: int = 24, bad: bool = True) -> Path:
    for i in range(count):
        split, cls = ("train", "test")[i % 2], ("happy", "sad", "angry")[i % 3]
        folder = root / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        kind = "jpg" if i % 4 else "png"
        Image.fromarray(_face(i, 48 + 8 * (i % 3))).save(folder / f"img{i:03d}.{kind}")
    if bad:
        (root / "train/happy/zero.jpg").write_bytes(b"")
        (root / "train/sad/text.png").write_text("this is not a PNG")
        Image.fromarray(_face(99, 64)).save(root / "test/sad/cut.jpg", quality=95)
        data = (root / "test/sad/cut.jpg").read_bytes()
        (root / "test/sad/cut.jpg").write_bytes(data[: len(data) // 2])
    return root


def _contents(path: Path) -> dict:
    """Every dataset of an HDF5 file as numpy arrays (the graphs, labels, ids, failures)."""
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        out["attrs"] = dict(f.attrs)
    return out


def _assert_same_contents(a: Path, b: Path) -> None:
    left, right = _contents(a), _contents(b)
    assert left.keys() == right.keys()
    for key in left:
        if key == "attrs":
            assert left[key] == right[key]
        else:
            assert np.array_equal(left[key], right[key]), key


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A 27-file dataset (3 bad files) built once with 2 workers: (index, store path, summary)."""
    tmp = tmp_path_factory.mktemp("built")
    index = discover(_dataset(tmp / "ds"))
    summary = build_graph_store(index, tmp / "graphs.h5", GBRParams(), num_workers=2,
                                progress=False, chunk_size=CHUNK)
    return index, tmp / "graphs.h5", summary


def test_store_holds_exactly_the_built_graphs_and_records_bad_files(built):
    index, out, summary = built
    bad = {"test/sad/cut.jpg": "truncated", "train/happy/zero.jpg": "empty", "train/sad/text.png": "not an image"}
    assert summary.num_samples == 27 and summary.num_built == 24
    assert {r[0]: r[2] for r in summary.failures}.keys() == bad.keys()
    with GraphStore(out) as store:
        assert sorted(store.failures) == sorted(summary.failures)
        for sample_id, path, reason in store.failures:
            assert bad[sample_id] in reason and path == str(index.root / sample_id)
        good = [s for s in index.samples if s.id not in bad]
        assert store.ids == [s.id for s in good]  # sorted by id
        assert store.labels.tolist() == [s.label for s in good]
        assert store.splits == [s.split for s in good]
        assert store.class_names == index.class_names
        for sample in good:
            want = build_graph(load_image(sample.source), GBRParams())
            got = store.get(sample.id)
            assert np.array_equal(got.boxes, want.boxes) and np.array_equal(got.edges, want.edges)
            assert np.array_equal(got.features[:, EXACT], want.features[:, EXACT])
            assert np.allclose(got.features, want.features, rtol=2.0**-11, atol=0)
            assert got.image_shape == want.image_shape == (48, 48)
        assert summary.nodes_max == max(np.diff(store.node_offsets))
    assert not list(out.parent.glob(".graphs.h5.work-*")) and not list(out.parent.glob("*.partial*"))


def test_worker_count_does_not_change_the_file(built, tmp_path):
    index, two_workers, _ = built
    one_worker = tmp_path / "one.h5"
    build_graph_store(index, one_worker, num_workers=1, progress=False, chunk_size=CHUNK)
    _assert_same_contents(one_worker, two_workers)


def test_resume_reuses_finished_shards_and_matches_a_clean_run(built, tmp_path):
    _, clean, _ = built
    root = tmp_path / "ds"
    shutil.copytree(built[0].root, root)
    index, params = discover(root), GBRParams()
    # What a run killed mid-way leaves: two finished shards, a half-written shard and a
    # half-written output.
    out = tmp_path / "graphs.h5"
    work = tmp_path / f".graphs.h5.work-{build_module.build_key(index, params, CHUNK, 'float16')}"
    work.mkdir()
    chunks = [index.samples[i:i + CHUNK] for i in range(0, len(index.samples), CHUNK)]
    builder = ChunkBuilder(params.to_dict())
    for chunk_id in (0, 3):
        shard = builder.build(chunk_items(index, chunks[chunk_id]), "float16")
        save_shard(work, chunk_id, shard)
    (work / "chunk-000001.npz.tmp123").write_bytes(b"half")
    (tmp_path / "graphs.h5.partial999").write_bytes(b"half")
    # The images of the finished chunks become garbage of the same size and mtime (the same
    # fingerprint): only the reused shards can provide their graphs.
    for sample in chunks[0] + chunks[3]:
        path, stat = Path(sample.source), Path(sample.source).stat()
        path.write_bytes(b"x" * stat.st_size)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = build_graph_store(index, out, params, num_workers=2, progress=False, chunk_size=CHUNK)
    assert summary.chunks_reused == 2
    assert sorted(r[0] for r in summary.failures) == sorted(r[0] for r in built[2].failures)
    contents = _contents(out)
    contents["attrs"]["root"] = str(built[0].root)  # the only difference: the copied dataset
    reference = _contents(clean)
    assert contents.keys() == reference.keys()
    for key in reference:
        if key == "failures/paths":
            continue
        assert contents[key] == reference[key] if key == "attrs" else np.array_equal(contents[key], reference[key]), key
    assert not work.exists() and not list(tmp_path.glob("*.partial*"))


def test_kill_9_mid_build_then_rerun_finishes_with_the_same_graphs(tmp_path):
    root = tmp_path / "ds"
    for i in range(400):
        folder = root / ("happy", "sad")[i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_face(i)).save(folder / f"f{i:03d}.png")
    out = tmp_path / "graphs.h5"
    command = [sys.executable, str(TOOLS / "build_graphs.py"), str(root), str(out),
               "--workers", "1", "--chunk-size", "2", "--no-progress"]
    # Its own session, so the Ray daemons it starts can be killed with it, by group id.
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob(".graphs.h5.work-*/*.npz"))) < 3 and proc.poll() is None:
            assert time.monotonic() < deadline, "the build made no shards in 120 s"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    seen = len(list(tmp_path.glob(".graphs.h5.work-*/*.npz")))
    assert seen >= 3 and not out.exists(), "the build finished before it could be killed"
    index = discover(root)
    summary = build_graph_store(index, out, num_workers=2, progress=False, chunk_size=2)
    assert summary.chunks_reused >= seen and summary.num_built == 400
    with GraphStore(out) as store:
        assert store.ids == [s.id for s in index.samples]
        for sample in index.samples:
            assert np.array_equal(store.get(sample.id).edges, build_graph(load_image(sample.source)).edges)


def test_resume_key_changes_with_parameters_samples_and_chunking(built):
    index = built[0]
    key = build_module.build_key(index, GBRParams(), CHUNK, "float16")
    assert key == build_module.build_key(index, GBRParams(), CHUNK, "float16")
    others = {
        build_module.build_key(index, GBRParams(purity=0.9), CHUNK, "float16"),
        build_module.build_key(index, GBRParams(edge_rule="overlap"), CHUNK, "float16"),
        build_module.build_key(index, GBRParams(), CHUNK + 1, "float16"),
        build_module.build_key(index, GBRParams(), CHUNK, "float32"),
        build_module.build_key(DatasetIndex(index.samples[1:], index.class_names, index.layout, index.root),
                               GBRParams(), CHUNK, "float16"),
    }
    assert key not in others and len(others) == 5


def test_in_memory_csv_build_and_bad_row(tmp_path):
    faces = [_face(i) for i in range(5)]
    rows = ["emotion,pixels,Usage"] + [f"{i % 7},{' '.join(map(str, f.ravel()))},Training" for i, f in enumerate(faces)]
    rows.append("3,1 2 3,PrivateTest")
    (tmp_path / "fer.csv").write_text("\n".join(rows) + "\n")
    index = discover(tmp_path / "fer.csv")
    summary = build_graph_store(index, tmp_path / "csv.h5", num_workers=2, progress=False, chunk_size=2)
    assert summary.num_built == 5
    assert summary.failures == [("csv:5", f"{tmp_path / 'fer.csv'}:row 5", "3 pixel values do not form a square image")]
    with GraphStore(tmp_path / "csv.h5") as store:
        assert np.array_equal(store.get("csv:3").boxes, build_graph(faces[3]).boxes)


def test_tool_exit_codes_and_one_line_errors(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_graphs_tool", TOOLS / "build_graphs.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    missing = tmp_path / "no_such_dataset"
    assert tool.main([str(missing), str(tmp_path / "x.h5"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "\n" not in err
    root = _dataset(tmp_path / "ds", count=6)
    # odd files: a dangling symlink is a recorded failure; a float TIFF outside [0, 1] is built
    (root / "train/happy/link.jpg").symlink_to(tmp_path / "gone.jpg")
    hdr = _face(7).astype(np.float32) * 40.0 - 1000.0
    Image.fromarray(hdr, mode="F").save(root / "test/happy/hdr.tif")
    out = tmp_path / "tool.h5"
    assert tool.main([str(root), str(out), "--workers", "2", "--no-progress", "--purity", "0.8"]) == tool.EXIT_FAILURES
    with GraphStore(out) as store:
        assert len(store) == 7 and len(store.failures) == 4 and store.params.purity == 0.8
        reasons = {sample_id: reason for sample_id, _, reason in store.failures}
        assert reasons["train/happy/link.jpg"].startswith("broken symbolic link")
        want = build_graph(load_image(root / "test/happy/hdr.tif"), store.params)
        assert want.num_nodes > 1 and np.array_equal(store.get("test/happy/hdr.tif").boxes, want.boxes)


@pytest.mark.datasets
def test_real_fer2013_and_ckplus_files(fer2013_dir, ckplus_dir, tmp_path):
    for root in (fer2013_dir, ckplus_dir):
        full = discover(root)
        picked = full.samples[:: len(full.samples) // 12][:12]
        index = DatasetIndex(picked, full.class_names, full.layout, full.root)
        out = tmp_path / f"{root.name}.h5"
        summary = build_graph_store(index, out, num_workers=2, progress=False, chunk_size=5)
        assert summary.num_built == 12 and not summary.failures
        with GraphStore(out) as store:
            for sample in picked:
                want = build_graph(load_image(sample.source))
                assert np.array_equal(store.get(sample.id).edges, want.edges)
