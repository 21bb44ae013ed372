"""Dataset readers: decode one image robustly, and index a dataset folder or CSV.

Layouts (``discover(root, layout)``):

- ``imagefolder``: ``root/<split>/<class>/<image>``. FER-2013 files carry their official split
  in the name prefix, which wins over the folder: ``Training_`` -> ``train``, ``PublicTest_``
  -> ``val``, ``PrivateTest_`` -> ``test`` (train on Training, select on PublicTest, report
  PrivateTest). Other files take their split folder's name, normalised to
  ``train``/``val``/``test`` where it is a known synonym.
- ``flat``: ``root/<class>/<image>`` (CK+48), split ``all``; ``ckplus_subject`` gives the
  subject for subject-independent folds.
- ``fer_csv``: a CSV with ``emotion,pixels[,Usage]``, images kept in memory, ids ``csv:<row>``
  (0-based data row), labels are the FER-2013 codes (0 angry ... 6 neutral).
- ``rafdb``: ``[basic/]EmoLabel/list_patition_label.txt`` lines ``train_00001.jpg 5`` plus
  ``[Image/]aligned/train_00001_aligned.jpg``; labels 1-7 become 0-6 (RAF-DB code order).
- ``ferplus``: ``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/`` with their ``label.csv``
  vote counts (see ``fer_graph.data.ferplus``): majority labels, vote distributions kept.

A folder that fits none of these is an error naming what was expected, never a guess.

Sample ids are stable strings: the image path relative to ``root`` (POSIX separators).
Samples are sorted by id. Folder class names are sorted; coded layouts keep their code order.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from fer_graph.data import ferplus

LAYOUTS = ("imagefolder", "flat", "fer_csv", "rafdb", "ferplus")
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
RAFDB_CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
# Official split carried by a FER-2013 file-name prefix or CSV Usage value.
FER2013_SPLITS = {"training": "train", "publictest": "val", "privatetest": "test"}
SPLIT_SYNONYMS = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val",
    "test": "test", "testing": "test", "privatetest": "test",
}
_CKPLUS_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")


class ImageReadError(Exception):
    """An image file that cannot be decoded completely.

    Attributes:
        path: the file (or ``csv:row`` description) that failed.
        reason: a short human-readable cause.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class DatasetLayoutError(Exception):
    """A dataset root that is missing or does not match a known layout (message: one line)."""


@dataclass(frozen=True)
class Sample:
    """One labelled image of a dataset."""

    id: str
    label: int
    split: str
    source: str | Path


@dataclass
class DatasetIndex:
    """All samples of a dataset, sorted by id.

    Attributes:
        samples: the samples, sorted by id.
        class_names: label i is ``class_names[i]``.
        layout: one of LAYOUTS.
        root: the folder (or CSV file) that was read.
        memory: id -> decoded image for layouts kept in memory (``fer_csv``).
        errors: id -> reason for in-memory samples that could not be decoded.
        votes: id -> annotator vote distribution over the classes (``ferplus``), for soft labels.
        left_out: reason -> count of listed images the layout leaves out (FERPlus unknown / NF).
    """

    samples: list[Sample]
    class_names: list[str]
    layout: str
    root: Path
    memory: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    errors: dict[str, str] = field(default_factory=dict, repr=False)
    votes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    left_out: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    def location(self, sample: Sample) -> str:
        """Where a sample's pixels come from, for messages and failure records."""
        if self.layout == "fer_csv":
            return f"{sample.source}:row {sample.id.split(':', 1)[1]}"
        return str(sample.source)

    def load(self, sample: Sample) -> np.ndarray:
        """Decode one sample's image (see ``load_image``); raises ``ImageReadError``."""
        if sample.id in self.errors:
            raise ImageReadError(self.location(sample), self.errors[sample.id])
        if sample.id in self.memory:
            return self.memory[sample.id]
        return load_image(sample.source)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file completely.

    16-bit grey is scaled by 255/65535 and 32-bit integer grey by 255/max. 32-bit float grey
    (mode ``F``, e.g. a float TIFF) follows ``float_to_uint8``: values in [0, 1] are scaled by
    255, values in [0, 255] kept, any other range min-max scaled to [0, 255].

    Returns:
        uint8 array, HxW for grey images, HxWx3 for colour ones (alpha is dropped).

    Raises:
        ImageReadError: missing, empty, truncated, corrupt or non-image file, a broken symbolic
            link, or a float image with NaN or infinite values.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if path.is_symlink():
            target = os.readlink(path)
            raise ImageReadError(path, f"broken symbolic link (target {target} does not exist)") from None
        raise ImageReadError(path, "file not found") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot access file: {exc.strerror or exc}") from None
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    if size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    try:
        with Image.open(path) as img:
            img.load()  # force the full decode so truncation is caught here, not later
            if img.mode == "F":
                return float_to_uint8(np.asarray(img, dtype=np.float64), path)
            return _to_array(img)
    except ImageReadError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageReadError(path, "not an image (unrecognised file format)") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... for bad data
        message = str(exc) or type(exc).__name__
        raise ImageReadError(path, f"truncated or corrupt image ({message})") from None


def float_to_uint8(values: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Float pixels as uint8 by range: [0, 1] x255, [0, 255] as is, else min-max to [0, 255].

    The first two bands match ``fer_graph.granular`` (a uint8 image u, u / 255 and u as floats
    give one graph); min-max keeps the picture of other ranges (HDR, signed data) instead of
    clipping it to one grey level. NaN or infinite values raise ImageReadError naming ``path``.
    """
    if not np.isfinite(values).all():
        raise ImageReadError(path, "float image with NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif low < 0.0 or high > 255.0:
        values = (values - low) * (255.0 / (high - low))  # high > low: the range exceeds [0, 255]
    return np.rint(values).astype(np.uint8)


def _to_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale to 8 bits instead of clipping everything above 255
        wide = np.asarray(img, dtype=np.int64)
        top = 65535 if img.mode.startswith("I;16") else max(int(wide.max()), 1)
        return np.clip(wide * 255 // top, 0, 255).astype(np.uint8)
    if img.mode in ("L", "1", "LA"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def ckplus_subject(sample_id: str) -> str:
    """The subject (``S010``) of a CK+ sample id or file name ``S<subject>_<seq>_<frame>``."""
    return parse_ckplus_name(sample_id)[0]


def parse_ckplus_name(sample_id: str) -> tuple[str, int, int]:
    """Split a CK+ id or file name into (subject, sequence, frame); ValueError if not CK+."""
    stem = Path(sample_id).stem
    match = _CKPLUS_NAME.match(stem)
    if match is None:
        raise ValueError(f"not a CK+ file name S<subject>_<seq>_<frame>: {sample_id!r}")
    return match.group(1), int(match.group(2)), int(match.group(3))


def discover(root: str | os.PathLike, layout: str = "auto") -> DatasetIndex:
    """Index a dataset.

    Args:
        root: the dataset folder (or the CSV file for ``fer_csv``).
        layout: one of LAYOUTS, or ``auto`` to detect it.

    Raises:
        DatasetLayoutError: missing root, unknown layout, or nothing matching the layout.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetLayoutError(f"dataset not found: {root}")
    if layout == "auto":
        layout = detect_layout(root)
    readers = {"imagefolder": _imagefolder, "flat": _flat, "fer_csv": _fer_csv, "rafdb": _rafdb,
               "ferplus": ferplus.read_ferplus}
    if layout not in readers:
        raise DatasetLayoutError(
            f"unknown layout {layout!r} for {root} (choose auto or one of {', '.join(LAYOUTS)})"
        )
    index = readers[layout](root)
    if not index.samples:
        raise DatasetLayoutError(f"no images found in {root} (layout {layout})")
    index.samples.sort(key=lambda s: s.id)
    return index


def detect_layout(root: Path) -> str:
    """Guess the layout of ``root`` from its files and folders; DatasetLayoutError if none fits."""
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "fer_csv"
        raise DatasetLayoutError(f"not a dataset folder or CSV file: {root}")
    if _rafdb_list(root) is not None:
        return "rafdb"
    if ferplus.looks_like_ferplus(root):
        missing = ferplus.missing_parts(root)
        if missing:
            raise DatasetLayoutError(f"{root} looks like FERPlus but lacks {', '.join(missing)} "
                                     "(layout ferplus: FER2013Train/, FER2013Valid/, FER2013Test/, each with label.csv)")
        return "ferplus"
    subdirs = _subdirs(root)
    if subdirs and all(_subdirs(d) and not _images(d) for d in subdirs):
        return "imagefolder"
    if subdirs and any(_images(d) for d in subdirs):
        named_like_splits = [d.name for d in subdirs
                             if d.name.lower() in SPLIT_SYNONYMS or d.name in ferplus.SPLIT_FOLDERS]
        if named_like_splits:
            raise DatasetLayoutError(
                f"{root}: folders {', '.join(named_like_splits)} hold images directly, so they would be read as "
                "classes (layout flat) although they are named like splits; lay them out as <split>/<class>/ "
                "or set data.layout explicitly"
            )
        return "flat"
    csvs = sorted(p for p in root.glob("*.csv") if p.is_file())
    if len(csvs) == 1:
        return "fer_csv"
    raise DatasetLayoutError(
        f"cannot detect the dataset layout of {root} "
        "(expected <split>/<class>/*, <class>/*, a FER CSV, RAF-DB EmoLabel/ + aligned/, or FERPlus "
        "FER2013Train/ FER2013Valid/ FER2013Test/ with label.csv)"
    )


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    """Image files of a folder by extension; hidden and non-image files are ignored.

    A broken symbolic link with an image name is kept, so that reading it is a recorded failure.
    """
    with os.scandir(folder) as entries:
        return sorted(
            Path(e.path) for e in entries
            if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
            and (e.is_file() or (e.is_symlink() and not os.path.exists(e.path)))
        )


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _imagefolder(root: Path) -> DatasetIndex:
    split_dirs = _subdirs(root)
    class_names = sorted({c.name for s in split_dirs for c in _subdirs(s)})
    if not class_names:
        raise DatasetLayoutError(f"no <split>/<class>/ folders in {root} (layout imagefolder)")
    label_of = {name: i for i, name in enumerate(class_names)}
    samples = []
    for split_dir in split_dirs:
        folder_split = SPLIT_SYNONYMS.get(split_dir.name.lower(), split_dir.name)
        for class_dir in _subdirs(split_dir):
            for path in _images(class_dir):
                prefix = path.name.split("_", 1)[0].lower()
                split = FER2013_SPLITS.get(prefix, folder_split)
                samples.append(Sample(_rel(path, root), label_of[class_dir.name], split, path))
    return DatasetIndex(samples, class_names, "imagefolder", root)


def _flat(root: Path) -> DatasetIndex:
    class_dirs = [d for d in _subdirs(root) if _images(d)]
    class_names = [d.name for d in class_dirs]
    samples = [
        Sample(_rel(path, root), label, "all", path)
        for label, class_dir in enumerate(class_dirs)
        for path in _images(class_dir)
    ]
    return DatasetIndex(samples, class_names, "flat", root)


def _fer_csv(root: Path) -> DatasetIndex:
    csv_path = root
    if root.is_dir():
        csvs = sorted(p for p in root.glob("*.csv") if p.is_file())
        if len(csvs) != 1:
            raise DatasetLayoutError(f"expected exactly one .csv file in {root} (layout fer_csv)")
        csv_path = csvs[0]
    samples, memory, errors = [], {}, {}
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields = {name.strip().lower(): name for name in reader.fieldnames or ()}
        if "emotion" not in fields or "pixels" not in fields:
            raise DatasetLayoutError(f"CSV without emotion,pixels columns: {csv_path}")
        for row_number, row in enumerate(reader):
            sample_id = f"csv:{row_number}"
            usage = (row.get(fields.get("usage", ""), "") or "").strip().lower()
            split = FER2013_SPLITS.get(usage, usage or "all")
            label = _int_or(row[fields["emotion"]], -1)
            if not 0 <= label < len(FER2013_CLASSES):
                raise DatasetLayoutError(
                    f"emotion {row[fields['emotion']]!r} outside 0-6 in {csv_path} row {row_number}"
                )
            samples.append(Sample(sample_id, label, split, csv_path))
            image, reason = _parse_pixels(row[fields["pixels"]])
            if image is None:
                errors[sample_id] = reason
            else:
                memory[sample_id] = image
    return DatasetIndex(samples, list(FER2013_CLASSES), "fer_csv", csv_path, memory, errors)


def _int_or(text: str, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _parse_pixels(text: str | None) -> tuple[np.ndarray | None, str]:
    """A square uint8 image from space-separated grey values, or (None, reason)."""
    try:
        values = np.array((text or "").split(), dtype=np.int64)
    except ValueError:
        return None, "pixels are not all integers"
    side = int(round(np.sqrt(values.size)))
    if values.size == 0 or side * side != values.size:
        return None, f"{values.size} pixel values do not form a square image"
    if values.min() < 0 or values.max() > 255:
        return None, "pixel values outside 0-255"
    return values.astype(np.uint8).reshape(side, side), ""


def _rafdb_list(root: Path) -> Path | None:
    for base in (root, root / "basic"):
        candidate = base / "EmoLabel" / "list_patition_label.txt"
        if candidate.is_file():
            return candidate
    return None


def _rafdb(root: Path) -> DatasetIndex:
    list_path = _rafdb_list(root)
    if list_path is None:
        raise DatasetLayoutError(
            f"no EmoLabel/list_patition_label.txt under {root} or {root / 'basic'} (layout rafdb)"
        )
    base = list_path.parent.parent
    aligned = next(
        (d for d in (base / "Image" / "aligned", base / "aligned", root / "aligned") if d.is_dir()),
        None,
    )
    if aligned is None:
        raise DatasetLayoutError(f"no Image/aligned/ or aligned/ folder under {base} (layout rafdb)")
    samples = []
    for line_number, line in enumerate(list_path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        label = _int_or(parts[1], 0) if len(parts) == 2 else 0
        if not 1 <= label <= len(RAFDB_CLASSES):
            raise DatasetLayoutError(f"bad line {line_number} in {list_path}: {line.strip()!r}")
        stem, suffix = os.path.splitext(parts[0])
        path = aligned / f"{stem}_aligned{suffix}"
        split = SPLIT_SYNONYMS.get(stem.split("_", 1)[0].lower(), "all")
        samples.append(Sample(_rel(path, root), label - 1, split, path))
    return DatasetIndex(samples, list(RAFDB_CLASSES), "rafdb", root)
