"""A trained model on another labelled dataset: predictions on the classes both share.

Class names meet through the canonical vocabulary (``fer_graph.data.emotions``: FER-2013's
``angry`` is CK+'s ``anger``). Faces of classes the model does not know are left out and
counted; the model's probabilities are kept for the shared classes only and renormalised, so a
face is predicted as one of the classes it can be scored on. Images go through the model's own
graph parameters and eval transform (``Predictor``), decoded by the dataset's reader (face boxes
included); an image that fails becomes a row with its error and the rest still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from fer_graph.data.emotions import canonical_classes
from fer_graph.data.readers import DatasetIndex
from fer_graph.inference.loading import LoadedModel
from fer_graph.inference.predict import Prediction, Predictor

ALL_SPLITS = "all"  # --split all: every sample of the dataset, whatever its split


@dataclass
class CrossDatasetEvaluation:
    """What ``evaluate_dataset`` found.

    Attributes:
        shared: canonical classes the model and the dataset share, in the model's order.
        model_only: the model's classes the dataset does not have.
        dataset_only: dataset classes the model does not have -> faces left out for it.
        ids: sample ids of the evaluated faces, in index order.
        labels: (N,) index into ``shared`` of each face's true class.
        probabilities: (N, len(shared)) the model's probabilities renormalised over ``shared``.
        failures: a row (file, error) per face that could not be evaluated.
    """

    shared: list[str]
    model_only: list[str]
    dataset_only: dict[str, int]
    ids: list[str] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    failures: list[Prediction] = field(default_factory=list)


def evaluate_dataset(loaded: LoadedModel, index: DatasetIndex, split: str = "test", batch_size: int = 64,
                     on_batch: Callable[[int], None] | None = None, faces=None) -> CrossDatasetEvaluation:
    """Predict every face of ``split`` whose class the model knows.

    Args:
        loaded: the checkpoint (``load_model``).
        index: the labelled dataset (``discover``).
        split: the split to evaluate, or ``all`` for every sample.
        batch_size: faces per forward pass.
        on_batch: called with the number of faces finished after each batch (progress).
        faces: a face step (``face_step_for``, largest face) run on each decoded image first,
            for uncropped datasets; an image without a face is a failure row.

    Raises:
        ValueError: no sample in ``split`` (the splits found are named), or no class in common.
    """
    model_classes = canonical_classes(loaded.class_names)
    dataset_classes = canonical_classes(index.class_names)
    shared = [c for c in model_classes if c in dataset_classes]
    if not shared:
        raise ValueError(f"the model's classes ({', '.join(model_classes)}) and the dataset's "
                         f"({', '.join(dataset_classes)}) have none in common")
    samples = [s for s in index.samples if split == ALL_SPLITS or s.split == split]
    if not samples:
        found = sorted({s.split for s in index.samples})
        raise ValueError(f"no {split} split in {index.root} (splits: {', '.join(found)}; "
                         f"--split {ALL_SPLITS} evaluates every sample)")
    column = {c: i for i, c in enumerate(shared)}
    dataset_only: dict[str, int] = {}
    kept = []
    for s in samples:
        name = dataset_classes[s.label]
        if name in column:
            kept.append(s)
        else:
            dataset_only[name] = dataset_only.get(name, 0) + 1
    result = CrossDatasetEvaluation(shared, [c for c in model_classes if c not in column],
                                    {c: dataset_only.get(c, 0) for c in dataset_classes if c not in column})
    by_location = {index.location(s): s for s in kept}
    predictor = Predictor(loaded, faces, read=lambda location: index.load(by_location[location]))
    rows = predictor.predict_paths([index.location(s) for s in kept], batch_size, on_batch)
    model_columns = [model_classes.index(c) for c in shared]
    ids, labels, probabilities = [], [], []
    for s, row in zip(kept, rows):
        if row.probabilities is None:
            result.failures.append(row)
            continue
        p = row.probabilities[model_columns]
        ids.append(s.id)
        labels.append(column[dataset_classes[s.label]])
        probabilities.append(p / max(float(p.sum()), 1e-12))
    result.ids = ids
    result.labels = np.array(labels, dtype=np.int64)
    result.probabilities = np.array(probabilities, dtype=np.float64).reshape(len(ids), len(shared))
    return result
