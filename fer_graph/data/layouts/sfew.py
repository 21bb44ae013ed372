"""``sfew``: SFEW 2.0, ``Train_Aligned_Faces/<Emotion>/`` and ``Val_Aligned_Faces/<Emotion>/`` (or ``Train/``, ``Val/``).

Emotion is one of Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise (class names follow the
canonical vocabulary). Val is the test split (its labels are public, the Test set's are not);
validation is carved from Train by the ``official`` protocol.
"""

from __future__ import annotations

from pathlib import Path

from fer_graph.data.emotions import canonical_emotion
from fer_graph.data.layouts.base import (
    DatasetIndex, DatasetLayoutError, Sample, find_child, images_in, relative_id, subdirs,
)

EMOTION_FOLDERS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
CLASSES = tuple(canonical_emotion(name) for name in EMOTION_FOLDERS)
SPLIT_FOLDERS = (("Train_Aligned_Faces", "Val_Aligned_Faces"), ("Train", "Val"))
EXPECTED = ("Train_Aligned_Faces/<Emotion>/ and Val_Aligned_Faces/<Emotion>/ (or Train/, Val/) with "
            f"Emotion in {', '.join(EMOTION_FOLDERS)}")


def split_folders(root: Path) -> tuple[Path, Path] | None:
    """The (train, val) folders of an SFEW tree, or None.

    Plain ``Train/`` + ``Val/`` count only spelt as SFEW spells them, with every class folder an
    SFEW emotion spelt as shipped (``Angry``) and no test folder, so that another dataset's
    ``train/val/<class>/`` (FER-2013's ``angry``...) is not taken for SFEW.
    """
    aligned = find_child(root, SPLIT_FOLDERS[0][0]), find_child(root, SPLIT_FOLDERS[0][1])
    if all(folder is not None and folder.is_dir() for folder in aligned):
        return aligned
    train, val = root / SPLIT_FOLDERS[1][0], root / SPLIT_FOLDERS[1][1]
    if not (train.is_dir() and val.is_dir()) or {d.name for d in subdirs(root)} & {"Test", "test", "Testing"}:
        return None
    names = {d.name for folder in (train, val) for d in subdirs(folder)}
    if names and names <= set(EMOTION_FOLDERS) and train.name in {d.name for d in subdirs(root)}:
        return train, val
    return None


def read_sfew(root: Path, options: dict) -> DatasetIndex:
    """Index SFEW 2.0: Train -> ``train``, Val -> ``test``."""
    folders = split_folders(root)
    if folders is None:
        raise DatasetLayoutError(f"{root} is not SFEW 2.0 (layout sfew: expected {EXPECTED})")
    label_of = {name.lower(): i for i, name in enumerate(EMOTION_FOLDERS)}
    samples = []
    for folder, split in zip(folders, ("train", "test")):
        for class_dir in subdirs(folder):
            if class_dir.name.lower() not in label_of:
                raise DatasetLayoutError(f"{class_dir}: not an SFEW emotion folder (expected {EXPECTED})")
            label = label_of[class_dir.name.lower()]
            samples += [Sample(relative_id(path, root), label, split, path) for path in images_in(class_dir)]
    return DatasetIndex(samples, list(CLASSES), "sfew", root)
