"""FERGraphDataset pairs each image with its own graph; collate_batch joins a batch once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fer_graph.data.dataset import (
    FERGraphDataset, IndexImages, MissingGraphError, collate_batch, collate_with_mirrors, evaluation_collate,
    preload_images,
)
from fer_graph.data.graph_codec import GraphArrays
from fer_graph.data.readers import discover
from fer_graph.data.store import GraphStore, GraphStoreWriter
from fer_graph.data.transforms import build_transforms
from fer_graph.granular.graph import GBRParams

from graph_helpers import strip_graph


@pytest.fixture
def folder(tmp_path):
    """An image-folder dataset of 12 grey images whose pixels encode their number."""
    rng = np.random.default_rng(0)
    images, graphs = {}, {}
    for k in range(12):
        split, cls = ("train", "test")[k % 2], f"c{k % 3}"
        path = tmp_path / split / cls / f"img{k:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, (24, 24), dtype=np.uint8)
        Image.fromarray(image).save(path)
        sample_id = path.relative_to(tmp_path).as_posix()
        images[sample_id] = image
        graphs[sample_id] = strip_graph(image, 2 + k % 4)
    return tmp_path, images, graphs


def test_items_pair_each_image_with_its_own_graph(folder):
    root, images, graphs = folder
    index = discover(root, "imagefolder")
    ids = [s.id for s in index.samples]
    data = FERGraphDataset(preload_images(IndexImages(index), ids), graphs, ids, [s.label for s in index.samples])
    assert len(data) == 12
    for pos, sample in enumerate(index.samples):
        x, graph, label = data[pos]
        assert label == sample.label
        torch.testing.assert_close(x[0], torch.from_numpy(images[sample.id]).float() / 255)
        assert graph is graphs[sample.id]
        # the graph describes this very image
        np.testing.assert_allclose(graph.features[0, 5], images[sample.id][:, graph.boxes[0, 1]:graph.boxes[0, 3] + 1].mean(), rtol=1e-5)


def test_preload_equals_lazy_reading(folder):
    root, images, _ = folder
    index = discover(root)
    lazy = IndexImages(index)
    ids = sorted(images)
    array = preload_images(lazy, ids)
    assert array.array.shape == (12, 24, 24) and array.array.dtype == np.uint8
    for i in ids:
        np.testing.assert_array_equal(array[i], lazy[i])
        np.testing.assert_array_equal(array[i], images[i])
    resized = preload_images(lazy, ids[:2], size=48)
    assert resized.array.shape == (2, 48, 48)


def write_store(path, graphs: dict, labels: dict) -> GraphStore:
    ids = sorted(graphs)
    with GraphStoreWriter(path, GBRParams(), ["c0", "c1", "c2"]) as writer:
        writer.append(ids, [labels[i] for i in ids], ["train"] * len(ids),
                      GraphArrays.from_graphs([graphs[i] for i in ids]))
    return GraphStore(path)


def test_missing_graph_names_the_id(folder, tmp_path):
    root, images, graphs = folder
    ids = sorted(images)
    lost = ids[3]
    partial = {i: g for i, g in graphs.items() if i != lost}
    with pytest.raises(MissingGraphError, match=lost):
        FERGraphDataset(images, partial, ids, [0] * 12)
    store = write_store(tmp_path / "g.h5", partial, dict.fromkeys(partial, 0))
    with pytest.raises(MissingGraphError, match=lost):
        FERGraphDataset(images, store, ids, [0] * 12)
    data = FERGraphDataset(images, store, ids[:3], [0] * 3)
    with pytest.raises(KeyError, match=lost):
        data.graph(lost)


def test_graph_store_source_preloaded_and_label_checked(folder, tmp_path):
    root, images, graphs = folder
    index = discover(root)
    labels = {s.id: s.label for s in index.samples}
    store = write_store(tmp_path / "g.h5", graphs, labels)
    ids = [s.id for s in index.samples]
    data = FERGraphDataset(preload_images(IndexImages(index), ids), store.load_all(), ids, [labels[i] for i in ids])
    assert store._memory is not None  # load_all ran: lookups no longer read the file
    for pos, sample_id in enumerate(ids):
        _, graph, label = data[pos]
        assert label == labels[sample_id]
        np.testing.assert_array_equal(graph.boxes, graphs[sample_id].boxes)
        np.testing.assert_array_equal(graph.edges, graphs[sample_id].edges)
    stale = write_store(tmp_path / "stale.h5", graphs, {i: (labels[i] + 1) % 3 for i in ids})
    with pytest.raises(ValueError, match="rebuild the graph store"):
        FERGraphDataset(IndexImages(index), stale, ids, [labels[i] for i in ids])


def test_graphs_follow_augmentation_and_are_reproducible(folder):
    _, images, graphs = folder
    ids = sorted(images)
    train, _ = build_transforms({"image_size": 24, "in_chans": 1, "augmentation": {"hflip": 1.0, "crop": "none"}})
    data = FERGraphDataset(images, graphs, ids, list(range(12)), transform=train, seed=1)
    x, graph, _ = data[5]
    torch.testing.assert_close(x[0], (torch.from_numpy(images[ids[5]][:, ::-1].copy()).float() / 255 - 0.5) / 0.5)
    np.testing.assert_allclose(graph.features[:, -1], 1 - graphs[ids[5]].features[:, -1], atol=1e-6)
    padded, _ = build_transforms({"image_size": 24, "in_chans": 1, "augmentation": {"padding": 3}})
    data = FERGraphDataset(images, graphs, ids, list(range(12)), transform=padded, seed=1)
    first = [data[k][0] for k in range(12)]
    again = [data[k][0] for k in range(12)]
    data.set_epoch(1)
    later = [data[k][0] for k in range(12)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert sum(not torch.equal(a, b) for a, b in zip(first, later)) >= 6


def test_collate_batch_offsets_graphs(folder):
    _, images, graphs = folder
    ids = sorted(images)[:5]
    data = FERGraphDataset(images, graphs, ids, [2, 0, 1, 1, 0])
    x, batch, y = collate_batch([data[k] for k in range(5)])
    assert x.shape == (5, 1, 24, 24) and x.dtype == torch.float32
    assert y.tolist() == [2, 0, 1, 1, 0] and y.dtype == torch.int64
    counts = [graphs[i].num_nodes for i in ids]
    assert batch.num_graphs == 5 and batch.nodes_per_graph().tolist() == counts
    offsets = np.cumsum([0] + counts[:-1])
    want = set()
    for off, i in zip(offsets, ids):
        for a, b in graphs[i].edges:
            want |= {(a + off, b + off), (b + off, a + off)}
    assert set(map(tuple, batch.edge_index.T.tolist())) == want
    assert batch.edge_index.shape[1] == len(want)
    np.testing.assert_allclose(batch.x.numpy(), np.concatenate([graphs[i].features for i in ids]))
    gi = batch.graph_index[batch.edge_index]
    assert torch.equal(gi[0], gi[1])  # no edge crosses graphs


def test_collate_without_graphs(folder):
    _, images, _ = folder
    ids = sorted(images)[:3]
    x, batch, y = collate_batch([FERGraphDataset(images, None, ids, [0, 1, 2])[k] for k in range(3)])
    assert batch is None and x.shape == (3, 1, 24, 24) and y.tolist() == [0, 1, 2]


def test_collate_with_mirrors_appends_the_flipped_views(folder):
    _, images, graphs = folder
    ids = sorted(images)[:3]
    items = [FERGraphDataset(images, graphs, ids, [0, 2, 1])[k] for k in range(3)]
    x, batch, y = collate_with_mirrors(items)
    assert x.shape == (6, 1, 24, 24) and y.tolist() == [0, 2, 1]
    torch.testing.assert_close(x[3:], torch.flip(x[:3], dims=[-1]))
    assert batch.num_graphs == 6
    counts = batch.nodes_per_graph().tolist()
    assert counts[3:] == counts[:3]
    plain_x, plain_batch, _ = collate_batch(items)
    torch.testing.assert_close(x[:3], plain_x)
    first_half = batch.graph_index < 3
    torch.testing.assert_close(batch.x[first_half], plain_batch.x)
    # mirrored node columns: col_norm -> 1 - col_norm, everything but the column features kept
    torch.testing.assert_close(batch.x[~first_half][:, -1], 1 - plain_batch.x[:, -1], atol=1e-6, rtol=0)
    torch.testing.assert_close(batch.x[~first_half][:, 4:10], plain_batch.x[:, 4:10])


def test_evaluation_collate_pairs_the_collate_with_its_view_count():
    assert evaluation_collate(False) == (collate_batch, 1)
    assert evaluation_collate(True) == (collate_with_mirrors, 2)
