"""Helpers shared by the granular-ball tests: small real-ish images and brute-force checks.

Imported as a plain module (pytest puts this folder on sys.path for its test files).
"""

from __future__ import annotations

import numpy as np


def face_like(size: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth uint8 image with blobs, a gradient and mild noise (face-like statistics)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] / size
    image = 90 + 60 * rows + 20 * np.sin(6 * cols)
    for _ in range(6):
        cr, cc, radius = rng.uniform(0.15, 0.85, 2).tolist() + [rng.uniform(0.05, 0.2)]
        image += rng.uniform(-80, 80) * np.exp(-((rows - cr) ** 2 + (cols - cc) ** 2) / radius**2)
    image += rng.normal(0, 4, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def brute_force_edges(boxes: np.ndarray, rule: str) -> np.ndarray:
    """All pairs i < j joined under `rule`, by testing every pair (O(N^2))."""
    b = boxes.astype(np.int64)
    pairs = []
    for i in range(len(b)):
        for j in range(i + 1, len(b)):
            rows_overlap = b[i, 0] <= b[j, 2] and b[j, 0] <= b[i, 2]
            cols_overlap = b[i, 1] <= b[j, 3] and b[j, 1] <= b[i, 3]
            rows_adjacent = b[i, 2] + 1 == b[j, 0] or b[j, 2] + 1 == b[i, 0]
            cols_adjacent = b[i, 3] + 1 == b[j, 1] or b[j, 3] + 1 == b[i, 1]
            if rule == "overlap":
                joined = rows_overlap and cols_overlap
            else:
                joined = (rows_overlap and (cols_overlap or cols_adjacent)) or (
                    cols_overlap and rows_adjacent)
            if joined:
                pairs.append((i, j))
    return np.asarray(pairs, dtype=np.int32).reshape(-1, 2)


def coverage(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """How many boxes cover each pixel."""
    counts = np.zeros(shape, dtype=np.int64)
    for r0, c0, r1, c1 in boxes:
        counts[r0:r1 + 1, c0:c1 + 1] += 1
    return counts
