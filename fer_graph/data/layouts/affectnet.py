"""``affectnet``: AffectNet in either form in circulation, official validation set as the test split.

(a) ``train_set/images/<n>.jpg`` with ``train_set/annotations/<n>_exp.npy`` (a numpy string such
    as ``'3'``; the ``_val``, ``_aro`` and ``_lnd`` files beside it are not read), ``val_set/``
    likewise. The images are the 224 px face crops.
(b) ``Manually_Annotated_Images/<dir>/<file>`` with ``Manually_Annotated_file_lists/training.csv``
    and ``validation.csv`` (header ``subDirectory_filePath, face_x, face_y, face_width,
    face_height, facial_landmarks, expression, valence, arousal``); the face box is cut out when
    an image is read.

Expression codes 0-7 are neutral, happy, sad, surprise, fear, disgust, anger, contempt; 8-10
(none, uncertain, no face) are left out and counted. Option ``classes``: 8 (default) or 7, which
also leaves contempt out. Training files are split ``train``, validation files ``test``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fer_graph.data.layouts.base import DatasetIndex, DatasetLayoutError, Sample, find_child, images_in
from fer_graph.errors import ConfigError

CLASSES = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")
LEFT_OUT_CODES = {8: "none", 9: "uncertain", 10: "no face"}
OPTIONS = {"classes": 8}
FOLDER_SPLITS = {"train_set": "train", "val_set": "test"}
LIST_SPLITS = {"training.csv": "train", "validation.csv": "test"}
IMAGES_DIR, LISTS_DIR = "Manually_Annotated_Images", "Manually_Annotated_file_lists"
_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")
EXPECTED = ("AffectNet train_set/{images,annotations}/ + val_set/, or Manually_Annotated_Images/ + "
            "Manually_Annotated_file_lists/{training,validation}.csv")


def looks_like_affectnet(root: Path) -> bool:
    """True when either form's top-level folders are under ``root``."""
    return any((root / name).is_dir() for name in (*FOLDER_SPLITS, IMAGES_DIR, LISTS_DIR))


def read_affectnet(root: Path, options: dict) -> DatasetIndex:
    """Index either form of AffectNet (see the module docstring)."""
    num_classes = options["classes"]
    if num_classes not in (7, 8):
        raise ConfigError(f"data.layout_options.classes: AffectNet has 8 or 7 classes, got {num_classes!r}")
    if any((root / name).is_dir() for name in FOLDER_SPLITS):
        coded, crops = _read_folders(root), {}
    elif (root / IMAGES_DIR).is_dir() or (root / LISTS_DIR).is_dir():
        coded, crops = _read_lists(root)
    else:
        raise DatasetLayoutError(f"{root} is not AffectNet (expected {EXPECTED})")
    left_out_codes = dict(LEFT_OUT_CODES)
    if num_classes == 7:
        left_out_codes[7] = "contempt"
    samples, left_out = [], {}
    for sample_id, code, split, path in coded:
        if code in left_out_codes:
            reason = f"{code} ({left_out_codes[code]})"
            left_out[reason] = left_out.get(reason, 0) + 1
            crops.pop(sample_id, None)
            continue
        samples.append(Sample(sample_id, code, split, path))
    return DatasetIndex(samples, list(CLASSES[:num_classes]), "affectnet", root, left_out=left_out,
                        left_out_format="{n} images of expression {reason}", crops=crops)


def _code(text: str, where: str) -> int:
    try:
        code = int(str(text).strip())
    except ValueError:
        code = -1
    if not 0 <= code <= max(LEFT_OUT_CODES):
        raise DatasetLayoutError(f"{where}: expression {text!r} is not an AffectNet code 0-10")
    return code


def _read_folders(root: Path) -> list[tuple[str, int, str, Path]]:
    missing = [f"{name}/{part}/" for name in FOLDER_SPLITS for part in ("images", "annotations")
               if not (root / name / part).is_dir()]
    if missing:
        raise DatasetLayoutError(f"{root} looks like AffectNet but lacks {', '.join(missing)} "
                                 f"(layout affectnet: {EXPECTED})")
    coded = []
    for name, split in FOLDER_SPLITS.items():
        annotations = root / name / "annotations"
        for path in images_in(root / name / "images"):
            label_file = annotations / f"{path.stem}_exp.npy"
            if not label_file.is_file():
                raise DatasetLayoutError(f"{path} has no expression file {label_file}")
            try:
                value = np.load(label_file, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise DatasetLayoutError(f"{label_file}: not a numpy expression file ({err})") from err
            text = value.item().decode() if isinstance(value.item(), bytes) else value.item()
            coded.append((f"{name}/images/{path.name}", _code(text, str(label_file)), split, path))
    return coded


def _read_lists(root: Path) -> tuple[list[tuple[str, int, str, Path]], dict[str, tuple[int, int, int, int]]]:
    lists = root / LISTS_DIR
    missing = [f"{IMAGES_DIR}/"] if not (root / IMAGES_DIR).is_dir() else []
    files = {name: find_child(lists, name) for name in LIST_SPLITS}
    missing += [f"{LISTS_DIR}/{name}" for name, found in files.items() if found is None]
    if missing:
        raise DatasetLayoutError(f"{root} looks like AffectNet but lacks {', '.join(missing)} "
                                 f"(layout affectnet: {EXPECTED})")
    coded, crops = [], {}
    for name, split in LIST_SPLITS.items():
        with open(files[name], newline="") as fh:
            reader = csv.DictReader(fh)
            absent = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
            if absent:
                raise DatasetLayoutError(f"{files[name]}: no column {', '.join(absent)} "
                                         f"(expected the header {', '.join(_COLUMNS)}, ...)")
            for line, row in enumerate(reader, start=2):
                where = f"{files[name]}:{line}"
                relative = row["subDirectory_filePath"].strip().replace("\\", "/")
                sample_id = f"{IMAGES_DIR}/{relative}"
                try:
                    box = tuple(int(float(row[c])) for c in ("face_x", "face_y", "face_width", "face_height"))
                except (TypeError, ValueError):
                    raise DatasetLayoutError(f"{where}: face box must be four numbers") from None
                coded.append((sample_id, _code(row["expression"], where), split, root / sample_id))
                crops[sample_id] = box
    return coded, crops
