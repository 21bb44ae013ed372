"""Helpers for the face tests: real FER-2013 faces that dlib finds, and their crop landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_graph.data.readers import load_image

# PrivateTest faces the HOG detector finds in their own (enlarged) crops.
FACES = ("happy/PrivateTest_10077120.jpg", "neutral/PrivateTest_10086748.jpg")
# A PrivateTest face HOG misses when pasted upright at 180 px, and dlib's CNN finds.
HOG_MISSES = "happy/PrivateTest_10470092.jpg"
# A PublicTest face HOG misses pasted upright at 180 px (turned either way too), and BlazeFace finds.
DLIB_MISSES = "surprise/PublicTest_61619813.jpg"


def fer_face(fer2013_dir: Path, which: int = 0) -> np.ndarray:
    return load_image(fer2013_dir / "test" / FACES[which])
