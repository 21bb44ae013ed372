"""Batched prediction over image files, folders and globs, the way evaluation computes it.

Each image is decoded with ``load_image``, optionally run through the face step (one row per
chosen face, with its record), turned into its graph
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
from fer_graph.faces import FaceRecord, FaceStep
from fer_graph.inference.faces import LBPFaceDetector, crop_step_for
from fer_graph.inference.loading import LoadedModel
from fer_graph.models.output import view_probabilities

_GLOB_CHARS = set("*?[")
Item = tuple[torch.Tensor, object]  # one crop's model input: its tensor and its graph (or None)


@dataclass
class Prediction:
    """One input's result.

    Attributes:
        path: the input file.
        probabilities: (num_classes,) softmax probabilities, or None on error.
        error: why the file has no prediction, or None.
        note: a remark (face detection outcome), or None.
        face: what the face step did for this row (None without one).
    """

    path: str
    probabilities: np.ndarray | None = None
    error: str | None = None
    note: str | None = None
    face: FaceRecord | None = None

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
        faces: a face step (``face_step_for``: anything with ``run(image) -> list[AlignedFace]``)
            run first; each chosen face becomes a row. None: images are used whole, except
            that a checkpoint trained on aligned face crops aligns them as its training did
            (``crop_step_for``), so a prediction on a crop equals evaluation on it.
        read: decodes one input path (a dataset's reader passes its own, e.g. with face boxes).
    """

    def __init__(self, loaded: LoadedModel, faces: FaceStep | LBPFaceDetector | None = None,
                 read: Callable[[str], np.ndarray] = load_image) -> None:
        self.loaded = loaded
        self.faces = faces if faces is not None else crop_step_for(loaded.config)
        self.read = read
        self.timings = Timings()

    def prepare_faces(self, image: np.ndarray) -> list[tuple[list[Item] | None, FaceRecord | None]]:
        """One decoded image -> (views, face record) per chosen face, timed per stage.

        ``views`` holds one (tensor, graph) per crop whose probabilities are averaged: the
        face, then its zoomed crops (``FaceParams.zoom_views``). Without a face step: one item
        with no record. A face step that finds no face (and does not use the whole image) gives
        one item with no views.
        """
        if self.faces is None:
            return [([self._tensor_and_graph(image)], None)]
        start = time.perf_counter()
        found = self.faces.run(image)
        self.timings.faces += time.perf_counter() - start
        return [(None, face.record) if face.image is None else
                ([self._tensor_and_graph(crop) for crop in (face.image, *face.views)], face.record)
                for face in found]

    def prepare(self, image: np.ndarray) -> tuple[list[Item], str | None]:
        """One decoded image -> (views, note) of its first chosen face.

        Raises:
            ValueError: the face step found no face.
        """
        views, record = self.prepare_faces(image)[0]
        if views is None:
            raise ValueError("no face found")
        return views, _note(record)

    def _tensor_and_graph(self, image: np.ndarray) -> tuple[torch.Tensor, object]:
        start = time.perf_counter()
        graph = self.loaded.graph_for(image)
        after_graph = time.perf_counter()
        tensor = self.loaded.tensor_for(image)
        self.timings.graphs += after_graph - start
        self.timings.transform += time.perf_counter() - after_graph
        return tensor, graph

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

    def predict_views(self, faces: Sequence[Sequence[Item]]) -> np.ndarray:
        """Probabilities (N, num_classes), each face's the mean over its views, as one batch."""
        flat = [item for views in faces for item in views]
        probs = self.predict_items(flat)
        ends = np.cumsum([len(views) for views in faces])
        return np.stack([probs[end - len(views):end].mean(axis=0) for views, end in zip(faces, ends)])

    def predict_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N, num_classes) for decoded uint8 images (HxW or HxWx3), one batch
        (the first chosen face of each with a face step; ValueError when one has none)."""
        prepared = [self.prepare(image)[0] for image in images]
        self.timings.images += len(prepared)
        return self.predict_views(prepared)

    def predict_inputs(self, inputs: Iterable[str | Path], batch_size: int = 64,
                       on_batch: Callable[[int], None] | None = None) -> list[Prediction]:
        """``expand_inputs`` then ``predict_entries``."""
        return self.predict_entries(expand_inputs(inputs), batch_size, on_batch)

    def predict_entries(self, entries: Sequence[tuple[Path, str | None]], batch_size: int = 64,
                        on_batch: Callable[[int], None] | None = None) -> list[Prediction]:
        """``predict_paths`` over ``expand_inputs`` entries; inputs naming nothing stay error rows in place."""
        rows = self.predict_paths([p for p, err in entries if err is None], batch_size, on_batch)
        by_path: dict[str, list[Prediction]] = {}
        for row in rows:
            by_path.setdefault(row.path, []).append(row)
        out: list[Prediction] = []
        for path, err in entries:
            out.extend(by_path.pop(str(path), []) if err is None else [Prediction(str(path), error=err)])
        return out

    def predict_paths(self, paths: Sequence[str | Path], batch_size: int = 64,
                      on_batch: Callable[[int], None] | None = None) -> list[Prediction]:
        """Predict every file; unreadable or failing files become error rows.

        Args:
            paths: image files.
            batch_size: files per forward pass (with ``select: all`` every face of them).
            on_batch: called with the number of files finished after each batch (progress).

        Returns:
            One Prediction per path in order, or with ``select: all`` one per face found
            (an image without a face keeps one row, saying so).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        paths = [str(p) for p in paths]
        results: list[Prediction] = []
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            ready: list[tuple[Prediction, list[Item]]] = []
            for path in chunk:
                for row, prepared in self._prepare_file(path):
                    results.append(row)
                    if prepared is not None:
                        ready.append((row, prepared))
            if ready:
                self._run_batch(ready)
            if on_batch is not None:
                on_batch(len(chunk))
        return results

    def _prepare_file(self, path: str) -> list[tuple[Prediction, list[Item] | None]]:
        start = time.perf_counter()
        try:
            image = self.read(path)
        except ImageReadError as err:
            return [(Prediction(path, error=err.reason), None)]
        except OSError as err:  # a folder given as a file, a permission problem
            return [(Prediction(path, error=f"cannot open: {err.strerror or err}"), None)]
        finally:
            self.timings.read += time.perf_counter() - start
        try:
            faces = self.prepare_faces(image)
        except Exception as err:  # one odd image (e.g. a blank one the builder rejects) must not stop the rest
            return [(Prediction(path, error=f"preprocessing failed: {type(err).__name__}: {err}"), None)]
        out = []
        for views, record in faces:
            row = Prediction(path, note=_note(record), face=record)
            if views is None:
                row.error = "no face found"
                out.append((row, None))
                continue
            self.timings.images += 1
            out.append((row, views))
        return out

    def _run_batch(self, ready: list[tuple[Prediction, list[Item]]]) -> None:
        try:
            probs = self.predict_views([views for _, views in ready])
        except RuntimeError as err:
            for row, _ in ready:
                row.error = f"model failed on this batch: {err}"
            return
        for (row, _), p in zip(ready, probs):
            row.probabilities = p


def _note(record: FaceRecord | None) -> str | None:
    if record is None:
        return None
    return record.note if record.found else "no face found: the whole image was used"


# Face record columns of the CSV, written when a face step ran.
FACE_COLUMNS = ("face_found", "face_count", "face_index", "face_box", "face_landmarks", "face_angle",
                "face_detector", "face_search_angle")


def _face_cells(record: FaceRecord | None) -> list[str]:
    if record is None:
        return [""] * len(FACE_COLUMNS)
    d = record.to_dict()
    return [str(int(record.found)), str(record.count), "" if record.index is None else str(record.index),
            json.dumps(d["box"]) if record.box else "", json.dumps(d["landmarks"]) if record.landmarks else "",
            "" if record.angle is None else f"{record.angle:.3f}", record.detector,
            "" if record.search_angle is None else f"{record.search_angle:g}"]


def write_csv(predictions: Sequence[Prediction], class_names: Sequence[str], path: str | Path) -> Path:
    """One row per input (or face): file, predicted class, its probability, every class
    probability, note, error, and the ``FACE_COLUMNS`` when a face step ran."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with_faces = any(row.face is not None for row in predictions)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "predicted", "probability", *(f"prob_{c}" for c in class_names),
                         "note", "error", *(FACE_COLUMNS if with_faces else ())])
        for row in predictions:
            faces = _face_cells(row.face) if with_faces else []
            if row.probabilities is None:
                writer.writerow([row.path, "", "", *([""] * len(class_names)), row.note or "", row.error or "",
                                 *faces])
                continue
            top = row.top
            writer.writerow([row.path, class_names[top], f"{row.probabilities[top]:.6g}",
                             *(f"{p:.6g}" for p in row.probabilities), row.note or "", row.error or "", *faces])
    return path


def to_records(predictions: Sequence[Prediction], class_names: Sequence[str]) -> list[dict]:
    """JSON-ready dicts: file, predicted, probability, probabilities {class: p}, note, error,
    and ``face`` (the face record) when a face step ran."""
    records = []
    for row in predictions:
        record: dict = {"file": row.path, "predicted": None, "probability": None, "probabilities": None}
        if row.probabilities is not None:
            record.update(predicted=class_names[row.top], probability=float(row.probabilities[row.top]),
                          probabilities={c: float(p) for c, p in zip(class_names, row.probabilities)})
        record.update(note=row.note, error=row.error)
        if row.face is not None:
            record["face"] = row.face.to_dict()
        records.append(record)
    return records


def write_json(predictions: Sequence[Prediction], class_names: Sequence[str], path: str | Path) -> Path:
    """``to_records`` written as a JSON list."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_records(predictions, class_names), indent=2))
    return path
