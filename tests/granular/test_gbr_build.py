"""build_graph: the public entry point, end to end, including real faces when present."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fer_graph.granular import FEATURE_NAMES, BallGraph, GBRParams, build_graph
from fer_graph.granular.features import box_features
from fer_graph.granular.preprocess import preprocess
from gbr_helpers import brute_force_edges, coverage, face_like


def components(graph: BallGraph) -> int:
    n = graph.num_nodes
    adjacency = coo_matrix((np.ones(graph.num_edges), (graph.edges[:, 0], graph.edges[:, 1])),
                           shape=(n, n))
    return connected_components(adjacency, directed=False)[0]


def check_contract(graph: BallGraph) -> None:
    height, width = graph.image_shape
    assert graph.boxes.dtype == np.int32 and graph.boxes.shape == (graph.num_nodes, 4)
    assert graph.features.dtype == np.float32
    assert graph.features.shape == (graph.num_nodes, len(FEATURE_NAMES))
    assert graph.edges.dtype == np.int32 and graph.edges.shape[1] == 2
    assert np.all(graph.boxes[:, :2] >= 0) and np.all(graph.boxes[:, 0] <= graph.boxes[:, 2])
    assert np.all(graph.boxes[:, 2] < height) and np.all(graph.boxes[:, 3] < width)
    assert np.all(graph.edges[:, 0] < graph.edges[:, 1])
    keys = graph.edges[:, 0].astype(np.int64) * graph.num_nodes + graph.edges[:, 1]
    assert np.all(np.diff(keys) > 0)  # lexicographically sorted, no duplicates
    assert np.isfinite(graph.features).all()
    assert coverage(graph.boxes, graph.image_shape).min() >= 1
    assert np.all((graph.centers >= 0) & (graph.centers <= 1))


def test_constant_image_is_one_ball_without_edges():
    graph = build_graph(np.full((30, 50), 0.4), GBRParams(image_size=None))
    check_contract(graph)
    assert graph.boxes.tolist() == [[0, 0, 29, 49]] and graph.num_edges == 0
    assert graph.image_shape == (30, 50)


@pytest.mark.parametrize("rule", ["touch", "overlap"])
def test_graph_contract_and_edges_on_real_ish_image(rule):
    params = GBRParams(edge_rule=rule)
    graph = build_graph(face_like(60, seed=8), params)
    check_contract(graph)
    assert graph.image_shape == (48, 48)
    assert np.array_equal(graph.edges, brute_force_edges(graph.boxes, rule))
    blurred, _ = preprocess(face_like(60, seed=8), 48)
    assert np.array_equal(graph.features, box_features(blurred, graph.boxes))
    if rule == "touch":
        assert components(graph) == 1


def test_edge_rule_and_max_nodes_do_not_change_the_balls():
    image = face_like(48, seed=12)
    touch = build_graph(image, GBRParams(edge_rule="touch"))
    overlap = build_graph(image, GBRParams(edge_rule="overlap"))
    assert np.array_equal(touch.boxes, overlap.boxes)
    assert set(map(tuple, overlap.edges.tolist())) <= set(map(tuple, touch.edges.tolist()))


def test_float_grey_colour_and_uint8_inputs_are_equivalent():
    grey = face_like(48, seed=13)
    reference = build_graph(grey)
    for variant in (grey / 255.0, (grey / 255.0).astype(np.float32), grey.astype(np.float64),
                    grey[:, :, None], np.repeat(grey[:, :, None], 3, axis=2)):
        graph = build_graph(variant)
        assert np.array_equal(graph.boxes, reference.boxes)
        assert np.array_equal(graph.features, reference.features)
        assert np.array_equal(graph.edges, reference.edges)


@pytest.mark.parametrize("bad", [np.zeros((0, 0)), np.zeros((3, 3, 3, 3, 3)),
                                 np.full((8, 8), np.nan), np.zeros((8, 8, 5))])
def test_bad_input_raises_value_error(bad):
    with pytest.raises(ValueError):
        build_graph(bad)


def test_gds_in_build_keeps_coverage_and_limit():
    image = face_like(96, seed=14)
    params = GBRParams(image_size=None, max_nodes=50)
    full = build_graph(image, GBRParams(image_size=None))
    small = build_graph(image, params)
    assert full.num_nodes > 50 and small.num_nodes == 50
    check_contract(small)
    assert components(small) == 1


def test_reference_stop_is_selectable():
    image = face_like(48, seed=15)
    assert not np.array_equal(build_graph(image, GBRParams(reference_stop=True)).boxes,
                              build_graph(image).boxes)


def _build_in_child(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    graph = build_graph(image, GBRParams(image_size=64))
    return graph.boxes, graph.features, graph.edges


def test_same_graph_in_another_process_and_order():
    images = [face_like(48, seed=s) for s in (20, 21)]
    here = [_build_in_child(image) for image in reversed(images)][::-1]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.map(_build_in_child, images)
    for mine, theirs in zip(here, there):
        for a, b in zip(mine, theirs):
            assert np.array_equal(a, b)


def _real_faces(folder: Path, count: int) -> list[np.ndarray]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    step = max(1, len(files) // count)
    return [np.asarray(Image.open(p)) for p in files[::step][:count]]


@pytest.mark.datasets
@pytest.mark.parametrize("dataset", ["fer2013_dir", "ckplus_dir"])
def test_real_faces_are_connected_under_touch(dataset, request):
    faces = _real_faces(request.getfixturevalue(dataset), 12)
    assert faces
    for face in faces:
        for size in (48, 112):
            graph = build_graph(face, GBRParams(image_size=size))
            check_contract(graph)
            assert components(graph) == 1
