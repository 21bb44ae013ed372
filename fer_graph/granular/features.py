"""Node features: geometry and grey-level statistics of each rectangle (FEATURE_NAMES order)."""

from __future__ import annotations

import numba
import numpy as np

from .graph import NUM_FEATURES

# h * log2(h) for the small bin counts that dominate: entropy = log2(n) - sum(h log2 h) / n
# then needs one logarithm per box instead of one per grey level (numba freezes the table).
_TABLE_SIZE = 4096
_H_LOG2_H = np.arange(_TABLE_SIZE) * np.log2(np.maximum(np.arange(_TABLE_SIZE), 1))


@numba.njit(cache=True)
def box_features(img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, 12) float32 features of the boxes measured on the blurred uint8 grey image.

    Geometry describes the clipped rectangle: row/col is its centre and half_width /
    half_height are (cols - 1) / 2 and (rows - 1) / 2, so a ball that is not clipped gives
    exactly its seed and Rx, Ry, and a GDS bounding box gets a consistent description.
    Statistics use population moments (np.var, scipy.stats.skew with bias=True); skewness
    of a constant region is 0; entropy is the Shannon entropy in bits of the 256-bin
    (one bin per grey level) histogram. row_norm / col_norm divide the centre by size - 1.
    """
    height, width = img.shape
    row_scale = 1.0 / max(height - 1, 1)
    col_scale = 1.0 / max(width - 1, 1)
    out = np.empty((boxes.shape[0], NUM_FEATURES), dtype=np.float32)
    hist = np.zeros(256, dtype=np.int64)
    for i in range(boxes.shape[0]):
        r0, c0, r1, c1 = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        lowest, highest = 255, 0
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                v = img[r, c]
                hist[v] += 1
                lowest = min(lowest, v)
                highest = max(highest, v)
        # Moments from the histogram: one pass over the pixels, then at most 256 bins;
        # the mean is exact first, so the central moments do not cancel catastrophically.
        n = np.float64((r1 - r0 + 1) * (c1 - c0 + 1))
        total = 0.0
        for v in range(lowest, highest + 1):
            total += v * hist[v]
        mean = total / n
        m2, m3, h_log_h = 0.0, 0.0, 0.0
        for v in range(lowest, highest + 1):
            h = hist[v]
            if h:
                d = v - mean
                m2 += h * d * d
                m3 += h * d * d * d
                h_log_h += _H_LOG2_H[h] if h < _TABLE_SIZE else h * np.log2(h)
                hist[v] = 0
        entropy = np.log2(n) - h_log_h / n if highest > lowest else 0.0
        m2 /= n
        m3 /= n
        skew = m3 / m2 ** 1.5 if m2 > 0.0 else 0.0
        row, col = 0.5 * (r0 + r1), 0.5 * (c0 + c1)
        out[i, 0] = row
        out[i, 1] = col
        out[i, 2] = 0.5 * (c1 - c0)
        out[i, 3] = 0.5 * (r1 - r0)
        out[i, 4] = m2
        out[i, 5] = mean
        out[i, 6] = skew
        out[i, 7] = highest
        out[i, 8] = lowest
        out[i, 9] = max(entropy, 0.0)
        out[i, 10] = row * row_scale
        out[i, 11] = col * col_scale
    return out
