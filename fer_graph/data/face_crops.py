"""``data.face_crop``: uncropped datasets (CAER-S scenes, AffectNet's full images) run through the
face step once before graphs are built, so training sees faces framed as ``predict.py
--detect-faces`` frames a photo.

Every sample's aligned crop is written as a PNG into a cache folder, and its record (face
found, how many, box, landmarks, roll angle) into ``faces.jsonl`` there; the index handed on
reads the crops, so graph building, fingerprints and training need nothing new. A crop is
reused while its source file and the face settings are unchanged. A sample where no face is
found is left out and counted (``no face found``), unless ``on_missing: whole`` asks for the
whole image.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from rich.console import Console

from fer_graph.data.progress import RateColumn, make_progress
from fer_graph.data.readers import DatasetIndex, ImageReadError, Sample
from fer_graph.faces import FaceParams, FaceStep

RECORDS = "faces.jsonl"
SETTINGS = "settings.json"
NO_FACE = "no face found"


@dataclass
class FaceCropSummary:
    """What a ``crop_faces`` pass did.

    Attributes:
        cache: the folder holding crops and records.
        cropped: samples now read from their aligned crop.
        reused: of those, crops kept from an earlier pass.
        no_face: ids where no face was found (left out, or used whole with ``on_missing: whole``).
        unreadable: ids whose image could not be read (kept, so graph building lists them).
    """

    cache: Path
    cropped: int = 0
    reused: int = 0
    no_face: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def crop_cache(store_path: str | os.PathLike) -> Path:
    """The crop folder that belongs to a graph store: ``<store stem>_crops`` beside it."""
    store_path = Path(store_path)
    return store_path.parent / f"{store_path.stem}_crops"


def read_records(cache: str | os.PathLike) -> dict[str, dict]:
    """id -> the last record written for it in ``cache/faces.jsonl`` (empty when there is none)."""
    path = Path(cache) / RECORDS
    records: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["id"]] = record
    return records


def crop_faces(index: DatasetIndex, params: FaceParams, cache: str | os.PathLike, progress: bool = True,
               log: Callable[[str], None] = print) -> tuple[DatasetIndex, FaceCropSummary]:
    """Run the face step over every sample of ``index``; returns the index of the crops.

    Args:
        params: the face settings with ``size`` set; ``select`` must be ``largest``.
        cache: crop folder (``crop_cache(graphs.store)`` in experiments).

    Raises:
        ValueError: ``select`` is not ``largest`` (a labelled image has one face) or size is 0.
    """
    if params.select != "largest":
        raise ValueError("data.face_crop.select: a dataset sample uses one face; set it to largest")
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    settings = json.dumps(params.to_dict(), sort_keys=True)
    settings_path = cache / SETTINGS
    if settings_path.is_file() and settings_path.read_text() != settings:
        log(f"face settings changed since {cache} was written: cropping every image again")
        (cache / RECORDS).unlink(missing_ok=True)
    settings_path.write_text(settings)
    old = read_records(cache)
    step: FaceStep | None = None
    summary = FaceCropSummary(cache=cache)
    samples: list[Sample] = []
    with make_progress(Console(stderr=True), progress, RateColumn(), transient=True) as bar, \
            open(cache / RECORDS, "a") as records:
        task = bar.add_task("cropping faces", total=len(index.samples))
        for sample in index.samples:
            crop_path = cache / f"{sample.id}.png"
            stamp = _source_stamp(index, sample)
            record = old.get(sample.id)
            if record is None or record["source"] != stamp or (record["crop"] and not crop_path.is_file()):
                step = step or FaceStep(params)
                record = _crop_one(index, sample, step, crop_path, stamp)
                records.write(json.dumps(record) + "\n")
            else:
                summary.reused += bool(record["crop"])
            bar.advance(task)
            if record.get("error"):
                summary.unreadable.append(sample.id)
                samples.append(sample)
                continue
            if not record["found"]:
                summary.no_face.append(sample.id)
                if not record["crop"]:
                    continue
            summary.cropped += 1
            samples.append(replace(sample, source=crop_path))
    left_out = dict(index.left_out)
    if params.on_missing == "skip" and summary.no_face:
        left_out[NO_FACE] = len(summary.no_face)
    # Every kept sample now reads its crop file, or is an unreadable one listed in index.errors.
    return replace(index, samples=samples, left_out=left_out, memory={}), summary


def _source_stamp(index: DatasetIndex, sample: Sample) -> str:
    """``size:mtime_ns`` of the sample's file, or a content hash for samples held in memory."""
    if sample.id in index.memory:
        import hashlib

        image = index.memory[sample.id]
        return "pixels:" + hashlib.blake2b(repr(image.shape).encode() + image.tobytes(), digest_size=12).hexdigest()
    try:
        st = os.stat(sample.source)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _crop_one(index: DatasetIndex, sample: Sample, step: FaceStep, crop_path: Path, stamp: str) -> dict:
    base = {"id": sample.id, "source": stamp, "crop": None}
    try:
        image = index.load(sample)
    except ImageReadError as err:
        return {**base, "found": False, "count": 0, "error": err.reason}
    face = step.run(image)[0]
    if face.image is not None:
        crop_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = crop_path.with_name(crop_path.name + ".tmp.png")
        Image.fromarray(np.ascontiguousarray(face.image)).save(tmp)
        os.replace(tmp, crop_path)
        base["crop"] = crop_path.name
    return {**base, **face.record.to_dict()}
