"""``samm``: SAMM micro-expressions, ``<subject>/<clip>/<subject>_<frame>.jpg`` plus the coding sheet
exported as ``SAMM_Micro_FACS_Codes_v2.csv`` at the root.

The sheet's columns include ``Subject, Filename, Onset Frame, Apex Frame, Offset Frame,
Estimated Emotion, Objective Classes``; ``Filename`` is the clip folder (rows above the header,
as in the shipped spreadsheet, are skipped). Options: ``frames`` ``apex`` (default: the apex
frame of each clip) or ``onset_offset`` (every frame from onset to offset); ``classes``
``estimated`` (default: the sheet's estimated emotions, ``Other`` left out and counted),
``objective`` (``Objective Classes`` 1-7, as ``objective_<n>``) or ``composite`` (negative =
anger, contempt, disgust, fear, sadness; positive = happiness; surprise; others left out). The
subject is the subject folder; the protocol is ``leave_one_subject_out``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from fer_graph.data.emotions import EMOTIONS, canonical_emotion
from fer_graph.data.layouts.base import DatasetIndex, DatasetLayoutError, Sample, find_child, images_in, relative_id
from fer_graph.data.layouts.sequences import frame_number
from fer_graph.errors import ConfigError

SHEET = "SAMM_Micro_FACS_Codes_v2.csv"
OPTIONS = {"frames": "apex", "classes": "estimated"}
FRAME_MODES = ("apex", "onset_offset")
CLASS_MODES = ("estimated", "objective", "composite")
COMPOSITE = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise"}
_COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion",
            "Objective Classes")
EXPECTED = f"<subject>/<clip>/<subject>_<frame>.jpg with {SHEET} at the root"


def sheet_path(root: Path) -> Path | None:
    """The coding sheet CSV at ``root`` (name matched ignoring case), or None."""
    found = find_child(root, SHEET)
    return found if found is not None and found.is_file() else None


def read_samm(root: Path, options: dict) -> DatasetIndex:
    """Index SAMM clips through the coding sheet (see the module docstring)."""
    for key, allowed in (("frames", FRAME_MODES), ("classes", CLASS_MODES)):
        if options[key] not in allowed:
            raise ConfigError(f"data.layout_options.{key}: must be one of {', '.join(allowed)}, got {options[key]!r}")
    sheet = sheet_path(root)
    if sheet is None:
        raise DatasetLayoutError(f"no {SHEET} in {root} (layout samm: {EXPECTED})")
    rows = _sheet_rows(sheet)
    labelled, left_out = [], {}
    for line, row in rows:
        name = _class_of(row, options["classes"], f"{sheet}:{line}")
        if name is None:
            reason = row["Estimated Emotion"].strip() or "no class"
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        labelled.append((line, row, name))
    if options["classes"] == "objective":
        class_names = sorted({name for _, _, name in labelled}, key=lambda n: int(n.split("_")[1]))
    else:
        class_names = sorted({name for _, _, name in labelled}, key=EMOTIONS.index)
    samples = []
    for line, row, name in labelled:
        samples += _clip_samples(root, row, class_names.index(name), options["frames"], f"{sheet}:{line}")
    return DatasetIndex(samples, class_names, "samm", root, left_out=left_out,
                        left_out_format="{n} clips labelled {reason}")


def _sheet_rows(sheet: Path) -> list[tuple[int, dict[str, str]]]:
    with open(sheet, newline="", encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    for number, header in enumerate(lines):
        cells = [c.strip() for c in header]
        if "Subject" in cells and "Filename" in cells:
            absent = [c for c in _COLUMNS if c not in cells]
            if absent:
                raise DatasetLayoutError(f"{sheet}:{number + 1}: no column {', '.join(absent)}")
            return [(number + 1 + i, dict(zip(cells, values)))
                    for i, values in enumerate(lines[number + 1:], start=1) if any(v.strip() for v in values)]
    raise DatasetLayoutError(f"{sheet}: no header row with Subject and Filename (columns {', '.join(_COLUMNS)})")


def _class_of(row: dict[str, str], mode: str, where: str) -> str | None:
    if mode == "objective":
        text = row["Objective Classes"].strip()
        if not text.isdigit():
            raise DatasetLayoutError(f"{where}: Objective Classes {text!r} is not a class number")
        return f"objective_{int(text)}"
    emotion = canonical_emotion(row["Estimated Emotion"])
    if emotion == "others":
        return None
    if emotion not in COMPOSITE:
        raise DatasetLayoutError(f"{where}: Estimated Emotion {row['Estimated Emotion']!r} is not a SAMM emotion")
    return COMPOSITE[emotion] if mode == "composite" else emotion


def _frame(row: dict[str, str], column: str, where: str) -> int:
    text = row[column].strip()
    try:
        return int(float(text))
    except ValueError:
        raise DatasetLayoutError(f"{where}: {column} {text!r} is not a frame number") from None


def _clip_samples(root: Path, row: dict[str, str], label: int, frames: str, where: str) -> list[Sample]:
    clip = row["Filename"].strip()
    subject_text = row["Subject"].strip()
    subject = f"{int(subject_text):03d}" if subject_text.isdigit() else subject_text
    folder = root / subject / clip
    if not folder.is_dir():
        raise DatasetLayoutError(f"{where}: clip folder {subject}/{clip}/ not found in {root} (layout samm: {EXPECTED})")
    numbered = {frame_number(p): p for p in images_in(folder)}
    if frames == "apex":
        wanted = [_frame(row, "Apex Frame", where)]
    else:
        wanted = list(range(_frame(row, "Onset Frame", where), _frame(row, "Offset Frame", where) + 1))
    absent = [n for n in wanted if n not in numbered]
    if absent:
        raise DatasetLayoutError(f"{where}: frame {absent[0]} of clip {subject}/{clip} is not in {folder}")
    return [Sample(relative_id(numbered[n], root), label, "all", numbered[n], subject=subject) for n in wanted]
