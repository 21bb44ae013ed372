"""One torch Dataset for (image, graph, label) by sample id, and the batch collate.

Images and graphs are looked up by the same sample id in one ``__getitem__``, so they cannot
drift apart (the authors zip two loaders). Sources:

- images: any mapping ``id -> uint8 array`` (a dict, ``IndexImages`` reading a
  ``DatasetIndex`` lazily, or ``ImageArray`` holding every image in one preloaded array);
- graphs: a ``GraphStore`` (``get(id)``), a plain ``dict`` of BallGraphs (e.g. from
  ``GraphStore.load_all()``), or None for image-only models.

Augmentation randomness comes from a numpy Generator seeded by (seed, epoch, position), so a
sample's augmentation does not depend on worker count or order, and a resumed run repeats it.
The ``pld`` target draws its labels the same way, from a stream of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from fer_graph.data.graph_batch import GraphBatch, collate_graphs
from fer_graph.data.readers import DatasetIndex
from fer_graph.data.transforms import mirror_pair
from fer_graph.granular.graph import BallGraph

# (image, graph, label), and for the soft and pld targets the distribution trained against
Item = (tuple[torch.Tensor, BallGraph | None, int]
        | tuple[torch.Tensor, BallGraph | None, int, np.ndarray])
# loss.target (Barsoum et al., ICMI 2016): cross-entropy on the majority label, against the
# annotators' vote distribution, or on a label drawn from that distribution for every epoch
TARGETS = ("hard", "soft", "pld")
_PLD_STREAM = 1  # keeps label draws apart from the augmentation draws of the same position


class MissingGraphError(KeyError):
    """A sample id without a graph in the graph source (message names the id(s))."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class IndexImages(Mapping):
    """Images of a ``DatasetIndex`` decoded on demand (``index.load``), keyed by sample id."""

    def __init__(self, index: DatasetIndex) -> None:
        self.index = index
        self._samples = {s.id: s for s in index.samples}

    def __getitem__(self, sample_id: str) -> np.ndarray:
        return self.index.load(self._samples[sample_id])

    def __contains__(self, sample_id: object) -> bool:  # without decoding, unlike Mapping's
        return sample_id in self._samples

    def __iter__(self):
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)


class ImageArray(Mapping):
    """Many images of one size held in one uint8 array (N, H, W) or (N, H, W, 3), keyed by id."""

    def __init__(self, ids: Sequence[str], array: np.ndarray) -> None:
        if len(ids) != len(array):
            raise ValueError(f"{len(ids)} ids for {len(array)} images")
        self.array = array
        self._row = {sample_id: i for i, sample_id in enumerate(ids)}

    def __getitem__(self, sample_id: str) -> np.ndarray:
        return self.array[self._row[sample_id]]

    def __iter__(self):
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


def preload_images(source: Mapping, ids: Iterable[str], size: int | None = None) -> ImageArray:
    """Decode every image once into one uint8 array.

    Args:
        source: mapping id -> uint8 image (HxW or HxWx3).
        ids: the ids to load, in order.
        size: resize every image to size x size (bilinear); None keeps sizes, which must agree.

    Returns:
        An ImageArray; grey (N, H, W) when every image is grey, else (N, H, W, 3) with grey
        images replicated.
    """
    ids = list(ids)
    images = [resized_image(np.asarray(source[i]), size) for i in ids]
    shapes = {im.shape[:2] for im in images}
    if len(shapes) > 1:
        raise ValueError(f"images have different sizes {sorted(shapes)[:3]}...; "
                         "pass size= to preload them resized")
    if any(im.ndim == 3 for im in images):
        images = [im if im.ndim == 3 else np.repeat(im[..., None], 3, axis=2) for im in images]
    array = np.stack(images) if images else np.zeros((0, size or 1, size or 1), np.uint8)
    return ImageArray(ids, array)


def resized_image(image: np.ndarray, size: int | None) -> np.ndarray:
    """An image's first three channels, resized to size x size (PIL bilinear) unless None."""
    if image.ndim == 3:
        image = image[..., :3]
    if size is None or image.shape[:2] == (size, size):
        return image
    from PIL import Image  # only needed when sizes differ

    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


class FERGraphDataset(Dataset):
    """``(image_tensor, BallGraph | None, label)`` for each sample id.

    Args:
        images: mapping id -> uint8 image.
        graphs: a GraphStore (anything with ``get(id)``), a dict id -> BallGraph, or None.
        ids: the sample ids of this split, in order.
        labels: one int label per id.
        transform: ``transform(image, graph, rng) -> (tensor, graph)`` (see transforms.py);
            None gives the raw image as a float tensor (C, H, W) in [0, 1].
        seed: base seed of the augmentation randomness.
        graph_ids: the id whose graph each position reads (default: its own). A derangement
            pairs every image with another image's graph, for the graph-reliance check.
        votes: one vote distribution (C,) per id; needed by the soft and pld targets.
        target: one of TARGETS. soft and pld add a fourth item, the distribution the loss trains
            against: the votes (soft), or a one-hot of a label drawn from them, seeded by
            (seed, epoch, position) like the augmentation (pld). ``label`` stays the majority.

    Raises:
        MissingGraphError: some ids have no graph (checked up front when the source lists ids).
        KeyError: some ids have no image (named).
    """

    def __init__(self, images: Mapping, graphs: Any, ids: Sequence[str], labels: Sequence[int],
                 transform: Callable | None = None, seed: int = 0,
                 graph_ids: Sequence[str] | None = None, votes: Sequence[np.ndarray] | None = None,
                 target: str = "hard") -> None:
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} ids but {len(labels)} labels")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        if target != "hard" and (votes is None or len(votes) != len(ids)):
            raise ValueError(f"target {target} needs one vote distribution per id")
        if graph_ids is not None and len(graph_ids) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(graph_ids)} graph_ids")
        self.ids = list(ids)
        self.graph_ids = list(graph_ids) if graph_ids is not None else self.ids
        self.labels = [int(label) for label in labels]
        self.images = images
        self.graphs = graphs
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0
        self.target = target
        self.votes = None if target == "hard" else np.asarray(votes, dtype=np.float64)
        _check_ids(self.ids, images, "image", KeyError)
        if graphs is not None:
            known = graphs if isinstance(graphs, Mapping) else getattr(graphs, "ids", None)
            if known is not None:
                _check_ids(self.ids, known, "graph", MissingGraphError)
            _check_labels(self.ids, self.labels, graphs)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation stream (call once per epoch, before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.ids)

    def graph(self, sample_id: str) -> BallGraph | None:
        """The graph of one sample id; MissingGraphError naming the id if there is none."""
        if self.graphs is None:
            return None
        try:
            graph = self.graphs[sample_id] if isinstance(self.graphs, Mapping) else self.graphs.get(sample_id)
        except KeyError:
            graph = None
        if graph is None:
            raise MissingGraphError(f"no graph for sample {sample_id!r} in {_describe(self.graphs)}")
        return graph

    def __getitem__(self, key: int | tuple[int, int]) -> Item:
        """The item at a position, or at ``(epoch, position)`` for the augmentation of that epoch
        (``streaming.EpochSampler``: workers that outlive an epoch cannot see ``set_epoch``)."""
        epoch, position = key if isinstance(key, tuple) else (self.epoch, key)
        sample_id = self.ids[position]
        image = self.images[sample_id]
        graph = self.graph(self.graph_ids[position])
        if self.transform is None:
            x = torch.from_numpy(np.ascontiguousarray(image)).float().div_(255.0)
            tensor = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
        else:
            rng = np.random.default_rng([self.seed, epoch, position])
            tensor, graph = self.transform(image, graph, rng)
        if self.votes is None:
            return tensor, graph, self.labels[position]
        return tensor, graph, self.labels[position], self.target_distribution(position, epoch)

    def target_distribution(self, position: int, epoch: int | None = None) -> np.ndarray:
        """The (C,) distribution the sample at ``position`` is trained against in ``epoch``
        (default: the current one)."""
        votes = self.votes[position]
        if self.target == "soft":
            return votes.astype(np.float32)
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch, position, _PLD_STREAM])
        drawn = np.zeros(len(votes), dtype=np.float32)
        drawn[rng.choice(len(votes), p=votes)] = 1.0
        return drawn


def _check_ids(ids: Sequence[str], known, what: str, error: type[Exception]) -> None:
    known = known if isinstance(known, (Mapping, set, frozenset)) else set(known)
    missing = [i for i in ids if i not in known]
    if missing:
        raise error(f"{len(missing)} of {len(ids)} sample(s) have no {what}, first: {missing[0]!r}"
                    + (f", {missing[1]!r}" if len(missing) > 1 else ""))


def _check_labels(ids: Sequence[str], labels: Sequence[int], graphs: Any) -> None:
    """A graph store records each sample's label: a disagreement means a stale store."""
    stored, row = getattr(graphs, "labels", None), getattr(graphs, "row", None)
    if stored is None or row is None:
        return
    for sample_id, label in zip(ids, labels):
        if int(stored[row(sample_id)]) != label:
            raise ValueError(f"sample {sample_id!r} has label {label} but {_describe(graphs)} "
                             f"says {int(stored[row(sample_id)])}: rebuild the graph store")


def _describe(source: Any) -> str:
    path = getattr(source, "path", None)
    if path is not None:
        return f"graph store {path}"
    size = f" of {len(source)} graphs" if hasattr(source, "__len__") else ""
    return f"{type(source).__name__}{size}"


def collate_batch(items: Sequence[Item]) -> tuple:
    """Stack images and labels and join graphs once per batch.

    Returns:
        images (B, C, H, W) float, graphs as one GraphBatch (None when the items carry no
        graphs), labels (B,) int64, and for items with a target distribution (soft, pld) the
        distributions (B, num_classes) float32 as a fourth element.
    """
    if not items:
        raise ValueError("collate_batch needs at least one item")
    images = torch.stack([item[0] for item in items])
    labels = torch.tensor([int(item[2]) for item in items], dtype=torch.int64)
    graphs = [item[1] for item in items]
    if len({g is None for g in graphs}) > 1:
        raise ValueError("a batch mixes samples with and without graphs")
    batch = (images, None if graphs[0] is None else collate_graphs(graphs), labels)
    if len(items[0]) > 3:
        batch += (torch.from_numpy(np.stack([item[3] for item in items])),)
    return batch


def collate_with_mirrors(items: Sequence[Item]) -> tuple[torch.Tensor, GraphBatch | None, torch.Tensor]:
    """``collate_batch`` of the B items followed by their B mirrors (flip test-time augmentation).

    Returns 2B images and graphs; labels stay (B,): view v of sample i is row ``v * B + i``.
    """
    mirrors = [(*mirror_pair(x, graph), label) for x, graph, label in items]
    images, graphs, _ = collate_batch(list(items) + mirrors)
    return images, graphs, torch.tensor([int(item[2]) for item in items], dtype=torch.int64)


def evaluation_collate(tta_hflip: bool) -> tuple[Callable, int]:
    """The collate function evaluation uses and how many views of each sample it stacks."""
    return (collate_with_mirrors, 2) if tta_hflip else (collate_batch, 1)
