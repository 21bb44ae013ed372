"""Batched prediction over image files, folders and globs, the way evaluation computes it.

Each image is decoded with ``load_image``, optionally face-cropped, turned into its graph
(``LoadedModel.graph_for``) and its tensor (``LoadedModel.tensor_for``), and batches are joined
with evaluation's collate (``evaluation_collate``: the face and, with ``train.tta_hflip``, its
mirror), so a file's probabilities equal those evaluation gives for the same image. A file
that cannot be read or processed becomes a row with an error; the others still run.
"""

from __future__ import annotations

import csv
import glob
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from fer_graph.data.dataset import evaluation_collate
from fer_graph.data.readers import IMAGE_EXTENSIONS, ImageReadError, load_image
from fer_graph.inference.faces import FaceDetector
from fer_graph.inference.loading import LoadedModel
from fer_graph.models.output import view_probabilities

_GLOB_CHARS = set("*?[")


@dataclass
class Prediction:
    """One input's result.

    Attributes:
        path: the input file.
        probabilities: (num_classes,) softmax probabilities, or None on error.
        error: why the file has no prediction, or None.
        note: a remark (face detection outcome), or None.
    """

    path: str
    probabilities: np.ndarray | None = None
    error: str | None = None
    note: str | None = None

    @property
    def top(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))


@dataclass
class Timings:
    """Seconds spent per stage of ``Predictor.predict_paths`` (summed over calls)."""

    read: float = 0.0
    faces: float = 0.0
    graphs: float = 0.0
    transform: float = 0.0
    model: float = 0.0
    images: int = 0

    @property
    def total(self) -> float:
        return self.read + self.faces + self.graphs + self.transform + self.model


def expand_inputs(inputs: Iterable[str | Path]) -> list[tuple[Path, str | None]]:
    """Files, folders (searched recursively for image extensions) and globs -> files.

    Returns:
        ``(path, None)`` for every file in input order (folders and globs sorted, duplicates
        dropped) and ``(input, reason)`` for an input that names nothing, at its place.
    """
    entries: list[tuple[Path, str | None]] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            entries.append((path, None))

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS):
                add(found)
        elif path.exists():
            add(path)  # named explicitly: tried whatever its extension
        elif _GLOB_CHARS & set(str(item)):
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True) if Path(m).is_file())
            if not matches:
                entries.append((path, "no file matches this pattern"))
            for match in matches:
                add(match)
        else:
            entries.append((path, "no such file or folder"))
    return entries


class Predictor:
    """Predicts expression probabilities for images with a loaded checkpoint.

    Args:
        loaded: the model and everything evaluation used with it (``load_model``).
        face_detector: crop the largest face first (None: images are used whole).
        read: decodes one input path (a dataset's reader passes its own, e.g. with face boxes).
    """

    def __init__(self, loaded: LoadedModel, face_detector: FaceDetector | None = None,
                 read: Callable[[str], np.ndarray] = load_image) -> None:
        self.loaded = loaded
        self.face_detector = face_detector
        self.read = read
        self.timings = Timings()

    def prepare(self, image: np.ndarray) -> tuple[torch.Tensor, object, str | None]:
        """One decoded image -> (tensor, graph or None, note), timed per stage."""
        note = None
        start = time.perf_counter()
        if self.face_detector is not None:
            crop = self.face_detector.crop(image)
            image, note = crop.image, crop.note
        after_faces = time.perf_counter()
        graph = self.loaded.graph_for(image)
        after_graph = time.perf_counter()
        tensor = self.loaded.tensor_for(image)
        done = time.perf_counter()
        self.timings.faces += after_faces - start
        self.timings.graphs += after_graph - after_faces
        self.timings.transform += done - after_graph
        return tensor, graph, note

    @torch.no_grad()
    def predict_items(self, items: Sequence[tuple[torch.Tensor, object]]) -> np.ndarray:
        """Probabilities (B, num_classes) for prepared (tensor, graph) pairs, as one batch."""
        start = time.perf_counter()
        batch = [(t, g, 0) for t, g in items]
        collate, views = evaluation_collate(self.loaded.config["train"].get("tta_hflip", False))
        images, graphs, _ = collate(batch)
        images = images.to(self.loaded.device)
        if self.loaded.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if graphs is not None:
            graphs = graphs.to(self.loaded.device)
        with self.loaded.autocast():
            logits = self.loaded.model(images, graphs).logits
        probs = view_probabilities(logits, views).cpu().numpy()
        self.timings.model += time.perf_counter() - start
        return probs

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N, num_classes) for decoded uint8 images (HxW or HxWx3), one batch."""
        prepared = [self.prepare(image)[:2] for image in images]
        self.timings.images += len(prepared)
        return self.predict_items(prepared)

    def predict_inputs(self, inputs: Iterable[str | Path], batch_size: int = 64,
                       on_batch: Callable[[int], None] | None = None) -> list[Prediction]:
        """``expand_inputs`` then ``predict_entries``."""
        return self.predict_entries(expand_inputs(inputs), batch_size, on_batch)

    def predict_entries(self, entries: Sequence[tuple[Path, str | None]], batch_size: int = 64,
                        on_batch: Callable[[int], None] | None = None) -> list[Prediction]:
        """``predict_paths`` over ``expand_inputs`` entries; inputs naming nothing stay error rows in place."""
        found = iter(self.predict_paths([p for p, err in entries if err is None], batch_size, on_batch))
        return [next(found) if err is None else Prediction(str(p), error=err) for p, err in entries]

    def predict_paths(self, paths: Sequence[str | Path], batch_size: int = 64,
                      on_batch: Callable[[int], None] | None = None) -> list[Prediction]:
        """Predict every file; unreadable or failing files become error rows.

        Args:
            paths: image files.
            batch_size: images per forward pass.
            on_batch: called with the number of files finished after each batch (progress).

        Returns:
            One Prediction per path, in order.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        results = [Prediction(str(p)) for p in paths]
        for start in range(0, len(results), batch_size):
            chunk = results[start:start + batch_size]
            ready: list[tuple[Prediction, tuple[torch.Tensor, object]]] = []
            for row in chunk:
                prepared = self._prepare_file(row)
                if prepared is not None:
                    ready.append((row, prepared))
            if ready:
                self._run_batch(ready)
            if on_batch is not None:
                on_batch(len(chunk))
        return results

    def _prepare_file(self, row: Prediction) -> tuple[torch.Tensor, object] | None:
        start = time.perf_counter()
        try:
            image = self.read(row.path)
        except ImageReadError as err:
            row.error = err.reason
            return None
        except OSError as err:  # a folder given as a file, a permission problem
            row.error = f"cannot open: {err.strerror or err}"
            return None
        finally:
            self.timings.read += time.perf_counter() - start
        try:
            tensor, graph, row.note = self.prepare(image)
        except Exception as err:  # one odd image (e.g. a blank one the builder rejects) must not stop the rest
            row.error = f"preprocessing failed: {type(err).__name__}: {err}"
            return None
        self.timings.images += 1
        return tensor, graph

    def _run_batch(self, ready: list[tuple[Prediction, tuple[torch.Tensor, object]]]) -> None:
        try:
            probs = self.predict_items([item for _, item in ready])
        except RuntimeError as err:
            for row, _ in ready:
                row.error = f"model failed on this batch: {err}"
            return
        for (row, _), p in zip(ready, probs):
            row.probabilities = p


def write_csv(predictions: Sequence[Prediction], class_names: Sequence[str], path: str | Path) -> Path:
    """One row per input: file, predicted class, its probability, every class probability, note, error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "predicted", "probability", *(f"prob_{c}" for c in class_names),
                         "note", "error"])
        for row in predictions:
            if row.probabilities is None:
                writer.writerow([row.path, "", "", *([""] * len(class_names)), row.note or "", row.error or ""])
                continue
            top = row.top
            writer.writerow([row.path, class_names[top], f"{row.probabilities[top]:.6g}",
                             *(f"{p:.6g}" for p in row.probabilities), row.note or "", row.error or ""])
    return path


def to_records(predictions: Sequence[Prediction], class_names: Sequence[str]) -> list[dict]:
    """JSON-ready dicts: file, predicted, probability, probabilities {class: p}, note, error."""
    records = []
    for row in predictions:
        record: dict = {"file": row.path, "predicted": None, "probability": None, "probabilities": None}
        if row.probabilities is not None:
            record.update(predicted=class_names[row.top], probability=float(row.probabilities[row.top]),
                          probabilities={c: float(p) for c, p in zip(class_names, row.probabilities)})
        record.update(note=row.note, error=row.error)
        records.append(record)
    return records


def write_json(predictions: Sequence[Prediction], class_names: Sequence[str], path: str | Path) -> Path:
    """``to_records`` written as a JSON list."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_records(predictions, class_names), indent=2))
    return path
