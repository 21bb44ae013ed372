"""Streaming a split: images decoded and graphs read inside DataLoader workers.

``data.loading: stream`` keeps a training process's memory independent of the dataset size:
nothing is decoded up front, each worker decodes the images of its own samples and reads their
graphs from the HDF5 store through a handle it opens itself, after the fork (an HDF5 handle
shared across a fork is not safe). ``preload`` decodes a whole split into one array first
(``dataset.preload_images``), which is faster for small sets whose images fit in memory.

Both modes give the same batches: a streamed image is resized exactly as the preload resizes
it, augmentation draws from (seed, epoch, position) streams, and the epoch travels with each
index (``EpochSampler``) so persistent workers, whose dataset copy the main process can no
longer change, still augment for the right epoch. ``StreamLoader`` keeps torch's global random
stream as a fresh loader per epoch would leave it, so the shuffle order and dropout do not depend
on whether workers persist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, get_worker_info

from fer_graph.data.dataset import resized_image

LOADING_MODES = ("preload", "stream")


class ResizedImages(Mapping):
    """Images of a mapping resized on demand to size x size, as ``preload_images`` resizes them.

    Grey images stay grey and colour images stay colour: a split mixing both gives the same
    pixels as the preload up to the float rounding of the grey conversion at ``in_chans`` 1.
    """

    def __init__(self, source: Mapping, size: int | None) -> None:
        self.source = source
        self.size = size

    def __getitem__(self, sample_id: str) -> np.ndarray:
        return resized_image(np.asarray(self.source[sample_id]), self.size)

    def __iter__(self):
        return iter(self.source)

    def __len__(self) -> int:
        return len(self.source)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self.source


class EpochSampler(Sampler):
    """Yields ``(epoch, position)`` for every position of ``positions``, with the dataset's epoch
    read in the main process when an epoch's iteration starts."""

    def __init__(self, positions: Sampler, dataset) -> None:
        self.positions = positions
        self.dataset = dataset

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.dataset.epoch
        return ((epoch, int(position)) for position in self.positions)

    def __len__(self) -> int:
        return len(self.positions)


class StreamLoader(DataLoader):
    """A DataLoader whose persistent workers leave torch's global random stream as it would be
    with fresh workers: a new iterator draws one base seed, a reused one would not."""

    def __iter__(self):
        if getattr(self, "_iterator", None) is not None:
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        return super().__iter__()


def open_sources_in_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: drop the graph store handle inherited through the fork, so
    the worker's first read opens its own."""
    graphs = get_worker_info().dataset.graphs
    if hasattr(graphs, "close"):
        graphs.close()
