"""What every layout reader returns (``Sample``, ``DatasetIndex``) and the folder helpers they share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_graph.data.images import IMAGE_EXTENSIONS, ImageReadError, crop_box, load_image

SPLIT_SYNONYMS = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val",
    "test": "test", "testing": "test", "privatetest": "test",
}


class DatasetLayoutError(Exception):
    """A dataset root that is missing or does not match a known layout (message: one line)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled image of a dataset.

    Attributes:
        id: stable string, the image path relative to the root (or ``csv:<row>``).
        label: index into the dataset's ``class_names``.
        split: ``train``, ``val``, ``test`` or ``all``.
        source: the image file (or the CSV file for in-memory rows), kept as a string: a Path
            object per sample costs ~360 bytes more, which a 300k-image index and every
            DataLoader worker forked from it would pay.
        subject: the person in the image where the layout records it (subject-independent folds).
    """

    id: str
    label: int
    split: str
    source: str | Path
    subject: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", os.fspath(self.source))


@dataclass
class DatasetIndex:
    """All samples of a dataset, sorted by id.

    Attributes:
        samples: the samples, sorted by id.
        class_names: label i is ``class_names[i]``.
        layout: the layout that was read.
        root: the folder (or CSV file) that was read.
        memory: id -> decoded image for layouts kept in memory (``fer_csv``).
        errors: id -> reason for in-memory samples that could not be decoded.
        votes: id -> annotator vote distribution over the classes (``ferplus``), for soft labels.
        left_out: reason -> count of listed images (or sequences) the layout leaves out.
        left_out_format: how one ``left_out`` entry reads in a message (``{n}``, ``{reason}``).
        crops: id -> ``(x, y, width, height)`` face box cut out of the file when it is read.
    """

    samples: list[Sample]
    class_names: list[str]
    layout: str
    root: Path
    memory: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    errors: dict[str, str] = field(default_factory=dict, repr=False)
    votes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    left_out: dict[str, int] = field(default_factory=dict)
    left_out_format: str = "{n} {reason}"
    crops: dict[str, tuple[int, int, int, int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.samples)

    def location(self, sample: Sample) -> str:
        """Where a sample's pixels come from, for messages and failure records."""
        if self.layout == "fer_csv":
            return f"{sample.source}:row {sample.id.split(':', 1)[1]}"
        return str(sample.source)

    def load(self, sample: Sample) -> np.ndarray:
        """Decode one sample's image (see ``load_image``), cut to its face box; raises ``ImageReadError``."""
        if sample.id in self.errors:
            raise ImageReadError(self.location(sample), self.errors[sample.id])
        if sample.id in self.memory:
            return self.memory[sample.id]
        image = load_image(sample.source)
        if sample.id in self.crops:
            image = crop_box(image, self.crops[sample.id], sample.source)
        return image

    def left_out_summary(self) -> str:
        """The ``left_out`` counts as one line (empty when nothing was left out)."""
        return ", ".join(self.left_out_format.format(n=n, reason=reason)
                         for reason, n in sorted(self.left_out.items()))


def subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def images_in(folder: Path) -> list[Path]:
    """Image files of a folder by extension; hidden and non-image files are ignored.

    A broken symbolic link with an image name is kept, so that reading it is a recorded failure.
    """
    with os.scandir(folder) as entries:
        return sorted(
            Path(e.path) for e in entries
            if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
            and (e.is_file() or (e.is_symlink() and not os.path.exists(e.path)))
        )


def relative_id(path: Path, root: Path) -> str:
    """A sample id: ``path`` relative to ``root`` with POSIX separators."""
    return path.relative_to(root).as_posix()


def int_or(text: str, default: int) -> int:
    """``int(text)``, or ``default`` where it is not an integer."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def find_child(folder: Path, name: str) -> Path | None:
    """The entry of ``folder`` called ``name`` ignoring case (shipped archives vary), or None."""
    exact = folder / name
    if exact.exists():
        return exact
    if not folder.is_dir():
        return None
    lowered = name.lower()
    return next((p for p in sorted(folder.iterdir()) if p.name.lower() == lowered), None)
