"""Streaming: images resized like the preload, the epoch reaches persistent workers, one HDF5
handle per worker, and reused workers leave torch's random stream as fresh ones would."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from fer_graph.data.dataset import FERGraphDataset, IndexImages, collate_batch, preload_images
from fer_graph.data.graph_codec import GraphArrays
from fer_graph.data.readers import discover
from fer_graph.data.store import GraphStore, GraphStoreWriter
from fer_graph.data.streaming import EpochSampler, ResizedImages, StreamLoader, open_sources_in_worker
from fer_graph.data.transforms import build_transforms
from fer_graph.granular.graph import GBRParams

from graph_helpers import strip_graph


@pytest.fixture
def dataset_with_store(tmp_path):
    """16 grey images of two sizes in an image folder, and a real graph store of their graphs."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    graphs = {}
    for k in range(16):
        path = root / "train" / f"c{k % 2}" / f"img{k:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, (20 + 10 * (k % 2), 24), dtype=np.uint8)
        Image.fromarray(image).save(path)
        graphs[path.relative_to(root).as_posix()] = strip_graph(image[:20], 2 + k % 3)
    index = discover(root, "imagefolder")
    ids = [s.id for s in index.samples]
    with GraphStoreWriter(tmp_path / "graphs.h5", GBRParams(), index.class_names) as writer:
        writer.append(ids, [s.label for s in index.samples], [s.split for s in index.samples],
                      GraphArrays.from_graphs([graphs[i] for i in ids]))
    return index, ids, GraphStore(tmp_path / "graphs.h5")


def test_streamed_images_equal_the_preloaded_ones(dataset_with_store) -> None:
    index, ids, _ = dataset_with_store
    preloaded = preload_images(IndexImages(index), ids, 28)
    streamed = ResizedImages(IndexImages(index), 28)
    assert {streamed[i].shape for i in ids} == {(28, 28)}
    for sample_id in ids:
        assert np.array_equal(streamed[sample_id], preloaded[sample_id]), sample_id


def test_persistent_workers_augment_each_epoch_like_one_process(dataset_with_store) -> None:
    index, ids, store = dataset_with_store
    train_tf, _ = build_transforms({"image_size": 24, "in_chans": 1, "augmentation": {"crop": "pad", "padding": 3}})
    labels = [s.label for s in index.samples]
    streamed = FERGraphDataset(ResizedImages(IndexImages(index), 24), store, ids, labels, train_tf, seed=5)
    loader = StreamLoader(streamed, sampler=EpochSampler(SequentialSampler(streamed), streamed), batch_size=4,
                          collate_fn=collate_batch, num_workers=2, persistent_workers=True,
                          worker_init_fn=open_sources_in_worker)
    # the reference: every image and graph in memory, one process, the epoch set on the dataset
    reference = FERGraphDataset(preload_images(IndexImages(index), ids, 24), {i: store.get(i) for i in ids},
                                ids, labels, train_tf, seed=5)
    epochs = []
    for epoch in (1, 2):
        streamed.set_epoch(epoch)
        reference.set_epoch(epoch)
        expected = [collate_batch([reference[p] for p in range(b, b + 4)]) for b in range(0, 16, 4)]
        got = list(loader)
        for (x, g, y), (ex, eg, ey) in zip(got, expected):
            assert torch.equal(x, ex) and torch.equal(y, ey)
            assert torch.equal(g.x, eg.x) and torch.equal(g.edge_index, eg.edge_index)
        epochs.append(torch.cat([x for x, _, _ in got]))
    assert not torch.equal(epochs[0], epochs[1])  # the epoch changed the augmentation


class _FirstReadProbe(FERGraphDataset):
    """Reports, with each item, its worker's pid and whether the store had no handle before the read."""

    def __getitem__(self, key):
        unopened = self.graphs._file is None
        super().__getitem__(key)
        return os.getpid(), unopened


def test_each_worker_opens_its_own_store_handle_after_the_fork(dataset_with_store) -> None:
    index, ids, store = dataset_with_store
    assert store._file is not None  # the parent's handle, open while the workers fork
    probe = _FirstReadProbe(IndexImages(index), store, ids, [s.label for s in index.samples])
    loader = DataLoader(probe, batch_size=1, num_workers=2, collate_fn=lambda items: items[0],
                        worker_init_fn=open_sources_in_worker)
    first_read: dict[int, bool] = {}
    for pid, unopened in loader:
        first_read.setdefault(pid, unopened)
    assert len(first_read) == 2 and all(first_read.values())
    assert os.getpid() not in first_read and store._file is not None  # the parent's is untouched


def _draw_after_two_epochs(persistent: bool) -> torch.Tensor:
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.arange(10))
    workers = 2 if persistent else 0
    loader = StreamLoader(data, sampler=RandomSampler(data), batch_size=3, num_workers=workers,
                          persistent_workers=persistent)
    orders = [torch.cat([b[0] for b in loader]) for _ in range(2)]
    return torch.cat([*orders, torch.rand(3)])


def test_reused_workers_leave_the_global_random_stream_as_fresh_ones() -> None:
    assert torch.equal(_draw_after_two_epochs(persistent=True), _draw_after_two_epochs(persistent=False))
