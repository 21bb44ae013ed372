"""``fer_csv``: the FER-2013 CSV, rows ``emotion,pixels[,Usage]``, labels the FER-2013 codes (0 angry ... 6 neutral)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fer_graph.data.layouts.base import DatasetIndex, DatasetLayoutError, Sample, int_or
from fer_graph.data.layouts.folders import FER2013_CLASSES, FER2013_SPLITS


def read_fer_csv(root: Path, options: dict) -> DatasetIndex:
    """A FER-2013 CSV (``emotion,pixels[,Usage]``), images kept in memory, ids ``csv:<row>``."""
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
            label = int_or(row[fields["emotion"]], -1)
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
