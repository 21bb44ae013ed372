"""``ckplus``: CK+ as shipped, ``cohn-kanade-images/S###/###/S###_###_########.png`` with
``Emotion/S###/###/S###_###_########_emotion.txt``.

An emotion file holds one code (``3.0000000e+00``): 0-7 = neutral, anger, contempt, disgust,
fear, happy, sadness, surprise. Only labelled sequences are read (the others are counted); each
gives its last k frames (option ``frames``, default 3), the peak of the expression, and with
``neutral_first_frame: true`` its first frame as ``neutral`` (the class list then starts with
neutral). The subject is the ``S###`` folder, for subject-independent folds.
"""

from __future__ import annotations

from pathlib import Path

from fer_graph.data.layouts.base import (
    DatasetIndex, DatasetLayoutError, Sample, find_child, images_in, relative_id, subdirs,
)
from fer_graph.data.layouts.sequences import check_frame_count, in_frame_order
from fer_graph.errors import ConfigError

CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
IMAGES_DIR, EMOTION_DIR = "cohn-kanade-images", "Emotion"
OPTIONS = {"frames": 3, "neutral_first_frame": False}
EXPECTED = (f"{IMAGES_DIR}/S###/###/S###_###_########.png and "
            f"{EMOTION_DIR}/S###/###/S###_###_########_emotion.txt")


def looks_like_ckplus(root: Path) -> bool:
    """True when the CK+ image or emotion folder is under ``root``."""
    return find_child(root, IMAGES_DIR) is not None or find_child(root, EMOTION_DIR) is not None


def read_ckplus(root: Path, options: dict) -> DatasetIndex:
    """Index the labelled sequences of CK+ (see the module docstring)."""
    k = check_frame_count(options["frames"])
    with_neutral = options["neutral_first_frame"]
    if not isinstance(with_neutral, bool):
        raise ConfigError(f"data.layout_options.neutral_first_frame: expected true or false, got {with_neutral!r}")
    images, emotions = find_child(root, IMAGES_DIR), find_child(root, EMOTION_DIR)
    missing = [f"{name}/" for name, found in ((IMAGES_DIR, images), (EMOTION_DIR, emotions)) if found is None]
    if missing:
        raise DatasetLayoutError(f"{root} looks like CK+ but lacks {', '.join(missing)} (layout ckplus: {EXPECTED})")
    class_names = list(CODES) if with_neutral else list(CODES[1:])
    label_of = {code: class_names.index(name) for code, name in enumerate(CODES) if name in class_names}
    samples, unlabelled, neutral_coded = [], 0, 0
    for subject_dir in subdirs(images):
        for sequence_dir in subdirs(subject_dir):
            frames = in_frame_order(images_in(sequence_dir))
            if not frames:
                continue
            code = _emotion_code(emotions / subject_dir.name / sequence_dir.name)
            if code is None:
                unlabelled += 1
                continue
            if code not in label_of:
                neutral_coded += 1
                continue
            chosen = [(path, label_of[code]) for path in frames[-k:]]
            if with_neutral and frames[0] not in frames[-k:]:
                chosen.insert(0, (frames[0], label_of[0]))
            samples += [Sample(relative_id(path, root), label, "all", path, subject=subject_dir.name)
                        for path, label in chosen]
    left_out = {"sequences without an emotion file": unlabelled} if unlabelled else {}
    if neutral_coded:
        left_out["sequences coded neutral (neutral_first_frame is off)"] = neutral_coded
    return DatasetIndex(samples, class_names, "ckplus", root, left_out=left_out, left_out_format="{n} {reason}")


def _emotion_code(folder: Path) -> int | None:
    """The code in a sequence's ``*_emotion.txt``, None when the sequence has none."""
    files = sorted(folder.glob("*_emotion.txt")) if folder.is_dir() else []
    if not files:
        return None
    if len(files) > 1:
        raise DatasetLayoutError(f"{folder}: {len(files)} emotion files, expected one")
    text = files[0].read_text().strip()
    try:
        value = float(text)
    except ValueError:
        raise DatasetLayoutError(f"{files[0]}: expected one emotion code 0-7, got {text[:40]!r}") from None
    if value != int(value) or not 0 <= value < len(CODES):
        raise DatasetLayoutError(f"{files[0]}: emotion code {text!r} is not one of 0-7")
    return int(value)
