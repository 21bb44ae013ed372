"""Edges between rectangles, found with a uniform grid instead of testing all N^2 pairs.

Rules (boxes are inclusive row_min, col_min, row_max, col_max):
  overlap: the rectangles share at least one pixel (the reference rule).
  touch:   they share a pixel or a side, i.e. some pixel of one equals or is a 4-neighbour
           of some pixel of the other. Diagonal corner contact alone does NOT count. Because
           the balls cover every pixel and the pixel grid is 4-connected, "touch" graphs are
           always connected.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def is_edge(ar0, ac0, ar1, ac1, br0, bc0, br1, bc1, touch):
    """Whether boxes a and b (row_min, col_min, row_max, col_max) are joined under the rule."""
    rows_overlap = ar0 <= br1 and br0 <= ar1
    cols_overlap = ac0 <= bc1 and bc0 <= ac1
    if not touch:
        return rows_overlap and cols_overlap
    rows_near = ar0 <= br1 + 1 and br0 <= ar1 + 1
    cols_near = ac0 <= bc1 + 1 and bc0 <= ac1 + 1
    return (rows_overlap and cols_near) or (cols_overlap and rows_near)


@numba.njit(cache=True)
def box_edges(boxes: np.ndarray, height: int, width: int, touch: bool) -> np.ndarray:
    """(E, 2) int32 edges i < j, sorted lexicographically.

    Each box is registered in every grid cell its range (extended by one pixel down and
    right, so touching boxes meet in a cell) reaches. A pair is tested only in cells both
    reach and reported only in the cell holding the top-left corner of their extended
    intersection, so each edge is found exactly once.
    """
    n = boxes.shape[0]
    if n < 2:
        return np.empty((0, 2), dtype=np.int32)
    # Cells about twice the mean ball side keep cell lists short; a power of two turns
    # the many cell-index divisions into shifts.
    shift = 1
    while (1 << (shift + 1)) <= 2.0 * np.sqrt(height * width / n):
        shift += 1
    grid_rows = (height >> shift) + 1
    grid_cols = (width >> shift) + 1
    counts = np.zeros(grid_rows * grid_cols + 1, dtype=np.int64)
    for i in range(n):
        for gr in range(boxes[i, 0] >> shift, ((boxes[i, 2] + 1) >> shift) + 1):
            for gc in range(boxes[i, 1] >> shift, ((boxes[i, 3] + 1) >> shift) + 1):
                counts[gr * grid_cols + gc + 1] += 1
    for k in range(grid_rows * grid_cols):
        counts[k + 1] += counts[k]
    members = np.empty(counts[-1], dtype=np.int32)
    fill = counts[:-1].copy()
    for i in range(n):
        for gr in range(boxes[i, 0] >> shift, ((boxes[i, 2] + 1) >> shift) + 1):
            for gc in range(boxes[i, 1] >> shift, ((boxes[i, 3] + 1) >> shift) + 1):
                members[fill[gr * grid_cols + gc]] = i
                fill[gr * grid_cols + gc] += 1

    capacity = 4 * n + 16
    first = np.empty(capacity, dtype=np.int32)
    second = np.empty(capacity, dtype=np.int32)
    found = 0
    for g in range(grid_rows * grid_cols):
        gr, gc = g // grid_cols, g % grid_cols
        for x in range(counts[g], counts[g + 1]):
            a = members[x]
            ar0, ac0, ar1, ac1 = boxes[a, 0], boxes[a, 1], boxes[a, 2], boxes[a, 3]
            for y in range(x + 1, counts[g + 1]):
                b = members[y]
                br0, bc0, br1, bc1 = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3]
                if not is_edge(ar0, ac0, ar1, ac1, br0, bc0, br1, bc1, touch):
                    continue
                if (max(ar0, br0) >> shift) != gr or (max(ac0, bc0) >> shift) != gc:
                    continue
                if found == capacity:
                    capacity *= 2
                    first = _grow_array(first, capacity)
                    second = _grow_array(second, capacity)
                # members of a cell are in increasing box order, so a < b.
                first[found] = a
                second[found] = b
                found += 1
    return _sorted_pairs(first[:found], second[:found], n)


@numba.njit(cache=True)
def _grow_array(values, capacity):
    bigger = np.empty(capacity, dtype=values.dtype)
    bigger[: values.size] = values
    return bigger


@numba.njit(cache=True)
def _sorted_pairs(first, second, n):
    # Counting sort on the first index, then insertion sort of each (short) neighbour run.
    starts = np.zeros(n + 1, dtype=np.int64)
    for k in range(first.size):
        starts[first[k] + 1] += 1
    for i in range(n):
        starts[i + 1] += starts[i]
    edges = np.empty((first.size, 2), dtype=np.int32)
    fill = starts[:-1].copy()
    for k in range(first.size):
        slot = fill[first[k]]
        edges[slot, 0] = first[k]
        edges[slot, 1] = second[k]
        fill[first[k]] += 1
    for i in range(n):
        for x in range(starts[i] + 1, starts[i + 1]):
            value = edges[x, 1]
            y = x - 1
            while y >= starts[i] and edges[y, 1] > value:
                edges[y + 1, 1] = edges[y, 1]
                y -= 1
            edges[y + 1, 1] = value
    return edges
