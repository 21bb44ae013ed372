"""``rafdb``: RAF-DB basic, ``EmoLabel/list_patition_label.txt`` lines ``train_00001.jpg 5`` and ``aligned/`` images."""

from __future__ import annotations

import os
from pathlib import Path

from fer_graph.data.layouts.base import (
    SPLIT_SYNONYMS, DatasetIndex, DatasetLayoutError, Sample, int_or, relative_id,
)

RAFDB_CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")


def rafdb_list(root: Path) -> Path | None:
    """The RAF-DB label list under ``root`` or ``root/basic``, or None."""
    for base in (root, root / "basic"):
        candidate = base / "EmoLabel" / "list_patition_label.txt"
        if candidate.is_file():
            return candidate
    return None


def read_rafdb(root: Path, options: dict) -> DatasetIndex:
    """``[basic/]EmoLabel/list_patition_label.txt`` plus ``[Image/]aligned/``; labels 1-7 become 0-6."""
    list_path = rafdb_list(root)
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
        label = int_or(parts[1], 0) if len(parts) == 2 else 0
        if not 1 <= label <= len(RAFDB_CLASSES):
            raise DatasetLayoutError(f"bad line {line_number} in {list_path}: {line.strip()!r}")
        stem, suffix = os.path.splitext(parts[0])
        path = aligned / f"{stem}_aligned{suffix}"
        split = SPLIT_SYNONYMS.get(stem.split("_", 1)[0].lower(), "all")
        samples.append(Sample(relative_id(path, root), label - 1, split, path))
    return DatasetIndex(samples, list(RAFDB_CLASSES), "rafdb", root)
