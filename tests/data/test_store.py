"""HDF5 graph store round trips with hand-made graphs."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest

import fer_graph
from fer_graph.data.graph_codec import GraphArrays, decode
from fer_graph.data.store import GraphStore, GraphStoreWriter
from fer_graph.granular.graph import NUM_FEATURES, BallGraph, GBRParams


def _graph(rng: np.random.Generator, nodes: int, edges: int, side: int = 48,
           height: int | None = None) -> BallGraph:
    """A graph on a side x side frame (height x side where height is given)."""
    height = side if height is None else height
    starts = rng.integers(0, [height, side], (nodes, 2))
    ends = np.minimum(starts + rng.integers(0, 8, (nodes, 2)), [height - 1, side - 1])
    boxes = np.concatenate([starts, ends], axis=1).astype(np.int32)
    features = rng.normal(0, 60, (nodes, NUM_FEATURES)).astype(np.float32)
    # geometry and extrema follow the builder's conventions (fer_graph.granular.features)
    b = boxes.astype(np.float64)
    row, col = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    features[:, [0, 1, 2, 3]] = np.stack([row, col, (b[:, 3] - b[:, 1]) / 2, (b[:, 2] - b[:, 0]) / 2], 1)
    features[:, 10], features[:, 11] = row * (1.0 / (height - 1)), col * (1.0 / (side - 1))
    features[:, [7, 8]] = rng.integers(0, 256, (nodes, 2))
    pairs = np.sort(rng.integers(0, max(nodes, 1), (edges, 2)), axis=1)
    pairs = np.unique(pairs[pairs[:, 0] < pairs[:, 1]], axis=0).astype(np.int32).reshape(-1, 2)
    return BallGraph(boxes, features, pairs, (height, side))


@pytest.fixture
def graphs():
    rng = np.random.default_rng(7)
    return {f"s{i:02d}.png": _graph(rng, n, 3 * n) for i, n in enumerate([5, 1, 40, 0, 300])}


def _write(path, graphs, params=GBRParams(), **kwargs):
    ids = sorted(graphs)
    with GraphStoreWriter(path, params, ["neg", "pos"], layout="flat", root="/data", **kwargs) as w:
        half = len(ids) // 2  # two appends, as the builder writes chunk by chunk
        for part in (ids[:half], ids[half:]):
            w.append(part, [len(i) % 2 for i in part], ["train" if "0" in i else "test" for i in part],
                     GraphArrays.from_graphs([graphs[i] for i in part]))
        w.add_failures([("bad.png", "/data/bad.png", "empty file (0 bytes)")])
    return ids


def _assert_equal(got: BallGraph, want: BallGraph, exact_features: bool) -> None:
    assert got.boxes.dtype == np.int32 and np.array_equal(got.boxes, want.boxes)
    assert got.edges.dtype == np.int32 and np.array_equal(got.edges, want.edges)
    assert got.features.dtype == np.float32 and got.image_shape == want.image_shape
    if exact_features:
        assert np.array_equal(got.features, want.features)
    else:  # documented float16 rounding: relative error <= 2^-11
        assert np.allclose(got.features, want.features, rtol=2.0**-11, atol=2.0**-24)
        exact = [0, 1, 2, 3, 7, 8, 10, 11]  # geometry and extrema are stored losslessly
        assert np.array_equal(got.features[:, exact], want.features[:, exact])


def test_round_trip_equals_input(tmp_path, graphs):
    path = tmp_path / "g.h5"
    ids = _write(path, graphs)
    with GraphStore(path) as store:
        assert len(store) == len(graphs) and store.ids == ids
        assert store.class_names == ["neg", "pos"] and store.params == GBRParams()
        assert store.labels.tolist() == [len(i) % 2 for i in ids]
        assert store.splits == ["train" if "0" in i else "test" for i in ids]
        assert store.layout == "flat" and store.root == "/data"
        assert store.fer_graph_version == fer_graph.__version__
        assert store.failures == [("bad.png", "/data/bad.png", "empty file (0 bytes)")]
        for sample_id in reversed(ids):
            _assert_equal(store.get(sample_id), graphs[sample_id], exact_features=False)
        assert "s02.png" in store and "nope.png" not in store
        with pytest.raises(KeyError, match="nope.png"):
            store.get("nope.png")
        assert store.load_all() is store
        assert np.diff(store.node_offsets).tolist() == [graphs[i].num_nodes for i in ids]
        for sample_id in ids:
            _assert_equal(store.get(sample_id), graphs[sample_id], exact_features=False)


def test_frames_of_other_shapes_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    graphs = {"tall.png": _graph(rng, 30, 60, side=20, height=70), "wide.png": _graph(rng, 25, 50, side=90, height=31)}
    _write(tmp_path / "g.h5", graphs, feature_dtype="float32")
    with GraphStore(tmp_path / "g.h5") as store:
        for sample_id, graph in graphs.items():
            _assert_equal(store.get(sample_id), graph, exact_features=True)


def test_float32_features_are_exact(tmp_path, graphs):
    _write(tmp_path / "g.h5", graphs, feature_dtype="float32", compression=None)
    with GraphStore(tmp_path / "g.h5") as store:
        for sample_id, graph in graphs.items():
            _assert_equal(store.get(sample_id), graph, exact_features=True)


def test_small_dtypes_and_layout_on_disk(tmp_path, graphs):
    _write(tmp_path / "g.h5", graphs)
    with h5py.File(tmp_path / "g.h5") as f:
        assert f["nodes/boxes"].dtype == np.uint8 and f["nodes/extrema"].dtype == np.uint8
        assert f["nodes/stats"].dtype == np.float16 and f["nodes/stats"].shape[1] == 4
        assert f["edges/dst"].dtype == np.uint16 and f["edges/dst"].ndim == 1
        counts = [graphs[i].num_nodes for i in sorted(graphs)]
        assert f["graphs/node_offsets"][()].tolist() == np.concatenate([[0], np.cumsum(counts)]).tolist()
        assert json.loads(f.attrs["params"]) == GBRParams().to_dict()


def test_large_images_use_wide_boxes_and_reject_overflow(tmp_path):
    rng = np.random.default_rng(1)
    big = {"big.png": _graph(rng, 20, 30, side=600)}
    _write(tmp_path / "big.h5", big, params=GBRParams(image_size=None))
    with GraphStore(tmp_path / "big.h5") as store:
        _assert_equal(store.get("big.png"), big["big.png"], exact_features=False)
    with pytest.raises(ValueError, match="outside uint8"):
        _write(tmp_path / "bad.h5", big, params=GBRParams(image_size=48))


def test_pickled_store_reopens(tmp_path, graphs):
    _write(tmp_path / "g.h5", graphs)
    store = GraphStore(tmp_path / "g.h5")
    copy = pickle.loads(pickle.dumps(store))
    _assert_equal(copy.get("s04.png"), graphs["s04.png"], exact_features=False)
    assert store.bytes_per_graph() == (tmp_path / "g.h5").stat().st_size / len(graphs)


def test_not_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        GraphStore(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something else"
    with pytest.raises(ValueError, match="not a fer_graph graph store"):
        GraphStore(tmp_path / "other.h5")


def test_float16_overflow_is_refused(tmp_path):
    graph = _graph(np.random.default_rng(2), 3, 2)
    graph.features[0, 4] = 1e6
    with pytest.raises(ValueError, match="float16 range"):
        _write(tmp_path / "g.h5", {"a.png": graph})
    _write(tmp_path / "g32.h5", {"a.png": graph}, feature_dtype="float32")


def test_graphs_unlike_the_builder_are_refused(tmp_path):
    graph = _graph(np.random.default_rng(3), 4, 6)
    shifted = BallGraph(graph.boxes, graph.features + np.float32(0.25), graph.edges, graph.image_shape)
    with pytest.raises(ValueError, match="geometry"):
        _write(tmp_path / "a.h5", {"a.png": shifted})
    unsorted = BallGraph(graph.boxes, graph.features, graph.edges[::-1].copy(), graph.image_shape)
    with pytest.raises(ValueError, match="sorted"):
        _write(tmp_path / "b.h5", {"b.png": unsorted})


def test_decode_refuses_rows_that_disagree():
    boxes = np.array([[0, 0, 1, 1], [2, 2, 3, 3]], np.uint8)
    stats, extrema = np.zeros((2, 4), np.float16), np.zeros((2, 2), np.uint8)
    with pytest.raises(ValueError, match="degrees adding up to 2 for 1 edges"):
        decode(boxes, stats, extrema, np.array([1, 1], np.uint16), np.array([1], np.uint16), (48, 48))
    with pytest.raises(ValueError, match="2 boxes, 1 stats"):
        decode(boxes, stats[:1], extrema, np.array([1, 0], np.uint16), np.array([1], np.uint16), (48, 48))
