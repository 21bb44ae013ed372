"""FERPlus in the layout Microsoft's FERPlus tools produce (Barsoum et al., ICMI 2016).

    root/FER2013Train/label.csv   fer0000000.png ...   -> split train
    root/FER2013Valid/label.csv   ...                  -> split val
    root/FER2013Test/label.csv    ...                  -> split test

Each ``label.csv`` has no header; a row is ``file name, face box, 10 vote counts`` in the
order of ``VOTE_COLUMNS``. The label is the majority vote over all ten columns; ties go to the
first top column in that order (so neutral wins a neutral/happiness tie), which is how the
dataset README counts classes. A face whose top vote is ``unknown`` or ``NF`` (not a face) is
left out and counted. The eight emotion votes, normalised, are kept per sample for the soft and
pld training targets (``loss.target``). A row naming a PNG that is not in its folder is an error
naming the csv line and the file, not a skip: the shipped label files name exactly the shipped
images, so a missing one means a damaged copy.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

LABEL_MODES = ("majority",)  # data.labels: how a face's single label comes from its votes
CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
VOTE_COLUMNS = (*CLASSES, "unknown", "NF")
SPLIT_FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
LABEL_FILE = "label.csv"


def looks_like_ferplus(root: Path) -> bool:
    """True when any FERPlus split folder with its label.csv is under ``root``."""
    return any((root / name / LABEL_FILE).is_file() for name in SPLIT_FOLDERS)


def missing_parts(root: Path) -> list[str]:
    """The split folders or label files of the official layout that ``root`` lacks."""
    return [f"{name}/{LABEL_FILE}" for name in SPLIT_FOLDERS if not (root / name / LABEL_FILE).is_file()]


def read_split(folder: Path) -> tuple[list[tuple[str, int, np.ndarray]], dict[str, int]]:
    """Rows of one split folder: (file name, majority label, emotion vote distribution).

    Returns:
        The kept rows and the count of left-out rows per reason (``unknown``, ``NF``).

    Raises:
        ValueError: a malformed row, or a row naming an image that is not in the folder.
    """
    label_file = folder / LABEL_FILE
    kept, left_out = [], {}
    with open(label_file, newline="") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row:
                continue
            if len(row) != 2 + len(VOTE_COLUMNS):
                raise ValueError(f"{label_file}:{line}: expected file name, face box and "
                                 f"{len(VOTE_COLUMNS)} vote counts, got {len(row)} fields")
            name = row[0].strip()
            try:
                votes = np.array([float(v) for v in row[2:]], dtype=np.float64)
            except ValueError as err:
                raise ValueError(f"{label_file}:{line}: vote counts must be numbers ({err})") from err
            if votes.min() < 0 or votes.sum() == 0:
                raise ValueError(f"{label_file}:{line}: vote counts must be >= 0 with at least one vote")
            if not (folder / name).is_file():
                raise ValueError(f"{label_file}:{line}: names {name}, which is not in {folder}")
            top = int(np.argmax(votes))  # first maximum: the documented tie rule
            if top >= len(CLASSES):
                left_out[VOTE_COLUMNS[top]] = left_out.get(VOTE_COLUMNS[top], 0) + 1
                continue
            emotions = votes[: len(CLASSES)]
            kept.append((name, top, emotions / emotions.sum()))
    return kept, left_out


def read_ferplus(root: Path):
    """The ``ferplus`` layout as a DatasetIndex (readers.discover's reader for it)."""
    # imported here: the layouts package imports this module to detect the layout
    from fer_graph.data.layouts.base import DatasetIndex, DatasetLayoutError, Sample

    missing = missing_parts(root)
    if missing:
        raise DatasetLayoutError(f"no {', '.join(missing)} in {root} (layout ferplus)")
    samples, votes, left_out = [], {}, {}
    for folder, split in SPLIT_FOLDERS.items():
        try:
            rows, dropped = read_split(root / folder)
        except ValueError as err:
            raise DatasetLayoutError(str(err)) from err
        for name, label, distribution in rows:
            sample_id = f"{folder}/{name}"
            samples.append(Sample(sample_id, label, split, root / folder / name))
            votes[sample_id] = distribution
        for reason, count in dropped.items():
            left_out[reason] = left_out.get(reason, 0) + count
    return DatasetIndex(samples, list(CLASSES), "ferplus", root, votes=votes, left_out=left_out,
                        left_out_format="{n} images whose top vote is {reason}")
