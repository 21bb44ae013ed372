"""DataLoaders of one split, preloaded or streamed (``data.loading``), graph-consistent transforms."""

from __future__ import annotations

from typing import Sequence

from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

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


def make_loader(
    config: dict, index: DatasetIndex, store: GraphStore | None, ids: Sequence[str], train: bool, seed: int,
    graph_ids: Sequence[str] | None = None,
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
        batch_size=batch,
        # A last batch of one sample breaks BatchNorm in training; evaluation keeps every sample.
        drop_last=train and len(ids) % batch == 1,
        collate_fn=collate_batch if train else evaluation_collate(train_cfg["tta_hflip"])[0],
        num_workers=workers,
    )
    if not stream:
        return DataLoader(dataset, sampler=positions, persistent_workers=False, **common)
    if store is not None and workers:
        store.close()  # no handle crosses the fork: each worker opens its own on first read
    return StreamLoader(
        dataset, sampler=EpochSampler(positions, dataset), persistent_workers=workers > 0,
        worker_init_fn=open_sources_in_worker if workers else None,
        pin_memory=resolve_device(train_cfg["device"]).type == "cuda", **common,
    )
