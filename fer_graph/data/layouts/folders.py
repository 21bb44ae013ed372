"""Class-folder layouts: ``imagefolder`` (``root/<split>/<class>/*``, FER-2013) and ``flat`` (``root/<class>/*``, CK+48)."""

from __future__ import annotations

import re
from pathlib import Path

from fer_graph.data.layouts.base import (
    SPLIT_SYNONYMS, DatasetIndex, DatasetLayoutError, Sample, images_in, relative_id, subdirs,
)

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Official split carried by a FER-2013 file-name prefix or CSV Usage value.
FER2013_SPLITS = {"training": "train", "publictest": "val", "privatetest": "test"}
_CKPLUS_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")


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


def read_imagefolder(root: Path, options: dict) -> DatasetIndex:
    """``root/<split>/<class>/<image>``; a FER-2013 file-name prefix wins over the split folder."""
    split_dirs = subdirs(root)
    class_names = sorted({c.name for s in split_dirs for c in subdirs(s)})
    if not class_names:
        raise DatasetLayoutError(f"no <split>/<class>/ folders in {root} (layout imagefolder)")
    label_of = {name: i for i, name in enumerate(class_names)}
    samples = []
    for split_dir in split_dirs:
        folder_split = SPLIT_SYNONYMS.get(split_dir.name.lower(), split_dir.name)
        for class_dir in subdirs(split_dir):
            for path in images_in(class_dir):
                prefix = path.name.split("_", 1)[0].lower()
                split = FER2013_SPLITS.get(prefix, folder_split)
                samples.append(Sample(relative_id(path, root), label_of[class_dir.name], split, path))
    return DatasetIndex(samples, class_names, "imagefolder", root)


def read_flat(root: Path, options: dict) -> DatasetIndex:
    """``root/<class>/<image>``, split ``all``."""
    class_dirs = [d for d in subdirs(root) if images_in(d)]
    class_names = [d.name for d in class_dirs]
    samples = [
        Sample(relative_id(path, root), label, "all", path)
        for label, class_dir in enumerate(class_dirs)
        for path in images_in(class_dir)
    ]
    return DatasetIndex(samples, class_names, "flat", root)
