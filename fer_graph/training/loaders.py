"""DataLoaders of one split, preloaded or streamed (``data.loading``), graph-consistent transforms."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, Sampler, SequentialSampler

from fer_graph.data.dataset import (
    FERGraphDataset,
    IndexImages,
    collate_batch,
    evaluation_collate,
    preload_images,
)
from fer_graph.data.readers import DatasetIndex
from fer_graph.data.store import GraphStore
from fer_graph.data.streaming import EpochSampler, ResizedImages, StreamLoader, open_sources_in_worker
from fer_graph.data.transforms import build_transforms
from fer_graph.models.devices import resolve_device
from fer_graph.training.sampling import train_sampler


class ShardedBatchSampler(Sampler):
    """One replica's share of each global batch: the batches of one process, split among `world`.

    Rank 0 draws the epoch's positions from `positions` (the sampler a single process uses) and
    sends them to every replica, so the replicas never disagree and together see the batches a
    single process would have seen with the same global RNG state. Global batch b goes to
    replica r as its r-th contiguous part (`np.array_split`). A last global batch too small to
    give each replica 2 samples is dropped: BatchNorm cannot train on a single sample.
    """

    def __init__(self, positions: Sampler, batch_size: int, rank: int, world: int) -> None:
        self.positions, self.batch_size, self.rank, self.world = positions, batch_size, rank, world

    def __iter__(self) -> Iterator[list]:
        drawn = [list(self.positions)] if self.rank == 0 else [None]
        if self.world > 1:
            torch.distributed.broadcast_object_list(drawn, src=0)
        drawn = drawn[0]
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = drawn[start:start + self.batch_size]
            share = np.array_split(np.arange(len(batch)), self.world)[self.rank]
            yield [batch[i] for i in share]

    def __len__(self) -> int:
        full, rest = divmod(len(self.positions), self.batch_size)
        return full + int(rest >= 2 * self.world)


def make_loader(
    config: dict, index: DatasetIndex, store: GraphStore | None, ids: Sequence[str], train: bool, seed: int,
    graph_ids: Sequence[str] | None = None, shard: tuple[int, int] | None = None,
) -> DataLoader:
    """A loader over `ids` yielding `(images, GraphBatch | None, labels)` in id order unless training.

    Shuffling draws from torch's global generator (no private `generator=`), so the order
    continues exactly when a resumed run restores the saved RNG state. Augmentation draws
    from the dataset's (seed, epoch, position) streams; the trainer calls `set_epoch`.
    With ``train.tta_hflip`` evaluation batches also carry every sample's mirror. Training
    batches carry the ``loss.target`` distribution (soft, pld) as a fourth element; evaluation
    batches never do, so validation and test are always scored against the majority label.
    ``graph_ids`` pairs each image with the graph of another id (see FERGraphDataset).

    ``data.loading: preload`` decodes the split into memory and reads the whole graph store
    first; ``stream`` decodes and reads in ``train.num_workers`` persistent workers (see
    ``fer_graph.data.streaming``), with the same batches.

    ``shard`` = (rank, world) makes a training loader one data-parallel replica's: it yields
    that replica's part of each global batch of ``train.batch_size`` (ShardedBatchSampler).
    """
    data, train_cfg = config["data"], config["train"]
    train_tf, eval_tf = build_transforms(data)
    ids = list(ids)
    label_of = {s.id: s.label for s in index.samples}
    stream = data["loading"] == "stream"
    if stream:
        images = ResizedImages(IndexImages(index), data["image_size"])
    else:
        images = preload_images(IndexImages(index), ids, data["image_size"])
        if store is not None:
            store.load_all()  # cached in the store: later get() calls read memory, not HDF5
    target = config["loss"]["target"] if train else "hard"
    votes = None if target == "hard" else [index.votes[i] for i in ids]
    dataset = FERGraphDataset(
        images, store, ids, [label_of[i] for i in ids], train_tf if train else eval_tf, seed=seed,
        graph_ids=graph_ids, votes=votes, target=target,
    )
    balanced = train_sampler(config, [label_of[i] for i in ids]) if train else None
    if balanced is not None:
        positions = balanced
    else:
        positions = RandomSampler(dataset) if train else SequentialSampler(dataset)
    batch, workers = train_cfg["batch_size"], train_cfg["num_workers"]
    common = dict(
        collate_fn=collate_batch if train else evaluation_collate(train_cfg["tta_hflip"])[0],
        num_workers=workers,
    )
    if stream:
        positions = EpochSampler(positions, dataset)
    if train and shard is not None:
        common["batch_sampler"] = ShardedBatchSampler(positions, batch, *shard)
    else:
        # A last batch of one sample breaks BatchNorm in training; evaluation keeps every sample.
        common.update(sampler=positions, batch_size=batch, drop_last=train and len(ids) % batch == 1)
    if not stream:
        return DataLoader(dataset, persistent_workers=False, **common)
    if store is not None and workers:
        store.close()  # no handle crosses the fork: each worker opens its own on first read
    return StreamLoader(
        dataset, persistent_workers=workers > 0,
        worker_init_fn=open_sources_in_worker if workers else None,
        pin_memory=resolve_device(train_cfg["device"]).type == "cuda", **common,
    )
