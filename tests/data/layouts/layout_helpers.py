"""Tiny generated images written where a dataset's official layout puts them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, seed: int, size: tuple[int, int] = (24, 24), colour: bool = False) -> Path:
    """A random uint8 image (grey, or RGB) saved at ``path`` in the format its suffix names."""
    rng = np.random.default_rng(seed)
    shape = (*size, 3) if colour else size
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path
