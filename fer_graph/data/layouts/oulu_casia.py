"""``oulu_casia``: Oulu-CASIA NIR&VIS, ``<VL|NI>/<Strong|Weak|Dark>/P###/<Emotion>/<frame>.jpeg``.

Original or cropped images alike. Options: ``channel`` (``VL`` visible light, default, or ``NI``
near infrared), ``illumination`` (``Strong``, default, ``Weak`` or ``Dark``) and ``frames``, the
last k frames of each sequence (default 3), the apex end of an onset-to-apex sequence. The
subject is the ``P###`` folder, for subject-independent folds (protocol ``subject_kfold``).
"""

from __future__ import annotations

from pathlib import Path

from fer_graph.data.emotions import canonical_emotion
from fer_graph.data.layouts.base import (
    DatasetIndex, DatasetLayoutError, Sample, find_child, images_in, relative_id, subdirs,
)
from fer_graph.data.layouts.sequences import check_frame_count, last_frames
from fer_graph.errors import ConfigError

EMOTION_FOLDERS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")
CLASSES = tuple(canonical_emotion(name) for name in EMOTION_FOLDERS)
CHANNELS = ("VL", "NI")
ILLUMINATIONS = ("Strong", "Weak", "Dark")
OPTIONS = {"channel": "VL", "illumination": "Strong", "frames": 3}
EXPECTED = f"<VL|NI>/<Strong|Weak|Dark>/P###/<{'|'.join(EMOTION_FOLDERS)}>/<frame>.jpeg"


def looks_like_oulu_casia(root: Path) -> bool:
    """True when a channel folder holding an illumination folder is under ``root``."""
    return any(
        (channel := find_child(root, name)) is not None and channel.is_dir()
        and any(find_child(channel, light) is not None for light in ILLUMINATIONS)
        for name in CHANNELS
    )


def read_oulu_casia(root: Path, options: dict) -> DatasetIndex:
    """Index the chosen channel and illumination of Oulu-CASIA (see the module docstring)."""
    for key, allowed in (("channel", CHANNELS), ("illumination", ILLUMINATIONS)):
        if options[key] not in allowed:
            raise ConfigError(f"data.layout_options.{key}: must be one of {', '.join(allowed)}, got {options[key]!r}")
    k = check_frame_count(options["frames"])
    channel = find_child(root, options["channel"])
    folder = find_child(channel, options["illumination"]) if channel is not None else None
    if folder is None or not folder.is_dir():
        raise DatasetLayoutError(f"{root} has no {options['channel']}/{options['illumination']}/ folder "
                                 f"(layout oulu_casia: {EXPECTED})")
    label_of = {name.lower(): i for i, name in enumerate(EMOTION_FOLDERS)}
    samples = []
    for subject_dir in subdirs(folder):
        if not (subject_dir.name[:1].upper() == "P" and subject_dir.name[1:].isdigit()):
            raise DatasetLayoutError(f"{subject_dir}: not a subject folder P### (layout oulu_casia: {EXPECTED})")
        for emotion_dir in subdirs(subject_dir):
            if emotion_dir.name.lower() not in label_of:
                raise DatasetLayoutError(f"{emotion_dir}: not an Oulu-CASIA emotion folder "
                                         f"({', '.join(EMOTION_FOLDERS)})")
            for path in last_frames(images_in(emotion_dir), k):
                samples.append(Sample(relative_id(path, root), label_of[emotion_dir.name.lower()], "all", path,
                                      subject=subject_dir.name.upper()))
    return DatasetIndex(samples, list(CLASSES), "oulu_casia", root)
