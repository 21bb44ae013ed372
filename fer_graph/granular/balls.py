"""Seeds and growth: cover the image with rectangles ("granular balls") of near-uniform grey.

A ball is a seed pixel (row, col) with half-width Rx (columns) and half-height Ry (rows); it
covers rows row-Ry..row+Ry and columns col-Rx..col+Rx clipped to the image. Seeds are taken
in increasing gradient order among still-uncovered pixels, so flat regions come first.
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np


def tie_break_seed(blurred: np.ndarray, params_key: bytes) -> np.uint64:
    """64-bit seed for the tie-break permutation, from the image content and the parameters.

    The same image and parameters give the same seed in any process, unlike the reference's
    process-global RNG.
    """
    digest = hashlib.blake2b(params_key, digest_size=8)
    digest.update(np.asarray(blurred.shape, dtype=np.int64).tobytes())
    digest.update(blurred.tobytes())
    return np.uint64(int.from_bytes(digest.digest(), "little"))


@numba.njit(cache=True, inline="always")
def _splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def seed_order(gradient: np.ndarray, seed: np.uint64) -> np.ndarray:
    """Flat pixel indices sorted by gradient; equal gradients in a seeded random order.

    A Fisher-Yates shuffle (splitmix64 stream) followed by a stable counting sort on the
    integer gradient: O(pixels), no comparison sort.
    """
    flat = gradient.ravel()
    n = flat.size
    perm = np.arange(n, dtype=np.int32)
    state = seed
    for i in range(n - 1, 0, -1):
        state, z = _splitmix64(state)
        # Multiply-shift instead of a 64-bit modulo (much slower); fine for < 2^32 pixels.
        j = np.int64(((z >> np.uint64(32)) * np.uint64(i + 1)) >> np.uint64(32))
        perm[i], perm[j] = perm[j], perm[i]
    top = 0
    for i in range(n):
        top = max(top, np.int64(flat[i]))
    starts = np.zeros(top + 2, dtype=np.int64)
    for i in range(n):
        starts[flat[i] + 1] += 1
    for v in range(top + 1):
        starts[v + 1] += starts[v]
    order = np.empty(n, dtype=np.int32)
    for i in range(n):
        idx = perm[i]
        v = flat[idx]
        order[starts[v]] = idx
        starts[v] += 1
    return order


@numba.njit(cache=True, inline="always")
def _strip(img, r0, r1, c0, c1, lo, hi):
    # Sum, sum of squares and in-tolerance count of one added row or column: growth adds
    # at most two such strips per step, so a ball costs O(its area), not O(area x steps).
    total = np.int64(0)
    squares = np.int64(0)
    inside = np.int64(0)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            v = np.int64(img[r, c])
            total += v
            squares += v * v
            if lo <= v <= hi:
                inside += 1
    return total, squares, inside


@numba.njit(cache=True)
def _grow(img, r, c, purity, tol, v_max, purity_growth, purity_cap, reference_stop):
    """Grows one ball from seed (r, c); returns its clipped box (r0, c0, r1, c1)."""
    height, width = img.shape
    s = np.int64(img[r, c])
    lo, hi = s - tol, s + tol
    r0, r1, c0, c1 = r, r, c, c
    rx, ry = 0, 0
    n, total, squares, inside = np.int64(1), s, s * s, np.int64(1)
    p = purity
    open_x, open_y = True, True
    step_x = True
    last_area = np.int64(1)
    while open_x or open_y:
        if step_x and not open_x:
            step_x = False
        elif not step_x and not open_y:
            step_x = True
        if step_x:
            nr0, nr1 = r0, r1
            nc0, nc1 = max(c - rx - 1, 0), min(c + rx + 1, width - 1)
        else:
            nr0, nr1 = max(r - ry - 1, 0), min(r + ry + 1, height - 1)
            nc0, nc1 = c0, c1
        area = np.int64(nr1 - nr0 + 1) * np.int64(nc1 - nc0 + 1)
        if reference_stop:
            # The reference compares with the last *evaluated* area: an unchanged area
            # ends growth and the candidate is returned untested.
            if area == last_area:
                return nr0, nc0, nr1, nc1
            last_area = area
        elif area == n:
            # Clipped on both sides: this axis cannot grow any more.
            if step_x:
                open_x = False
            else:
                open_y = False
            step_x = not step_x
            continue
        add_t, add_s, add_i = np.int64(0), np.int64(0), np.int64(0)
        if step_x:
            if nc0 < c0:
                t, q, k = _strip(img, nr0, nr1, nc0, nc0, lo, hi)
                add_t, add_s, add_i = add_t + t, add_s + q, add_i + k
            if nc1 > c1:
                t, q, k = _strip(img, nr0, nr1, nc1, nc1, lo, hi)
                add_t, add_s, add_i = add_t + t, add_s + q, add_i + k
        else:
            if nr0 < r0:
                t, q, k = _strip(img, nr0, nr0, nc0, nc1, lo, hi)
                add_t, add_s, add_i = add_t + t, add_s + q, add_i + k
            if nr1 > r1:
                t, q, k = _strip(img, nr1, nr1, nc0, nc1, lo, hi)
                add_t, add_s, add_i = add_t + t, add_s + q, add_i + k
        new_t, new_s, new_i = total + add_t, squares + add_s, inside + add_i
        # From exact integer sums; float avoids int64 overflow of area * sum(v^2) on huge images.
        variance = (new_s - new_t * (new_t / area)) / area
        if new_i > p * area and variance < v_max:
            r0, r1, c0, c1 = nr0, nr1, nc0, nc1
            n, total, squares, inside = area, new_t, new_s, new_i
            if step_x:
                rx += 1
            else:
                ry += 1
            p = min(p * purity_growth, purity_cap)
        elif step_x:
            open_x = False
        else:
            open_y = False
        step_x = not step_x
    return r0, c0, r1, c1


@numba.njit(cache=True)
def grow_balls(img, order, purity, tau, v_max, purity_growth, purity_cap, reference_stop):
    """Covers every pixel of img with balls grown from seeds in `order`.

    Args:
        img: HxW uint8 blurred grey image.
        order: flat pixel indices, the seed priority (see seed_order).
        purity, tau, v_max, purity_growth, purity_cap: GBRParams values; a step is kept
            while the share of pixels with |I - I_seed| <= tau exceeds p and the variance
            stays below v_max, and p tightens by purity_growth (capped) after each kept step.
        reference_stop: see GBRParams.reference_stop.

    Returns:
        boxes: (N, 4) int32 row_min, col_min, row_max, col_max in seed order.
        seeds: (N, 2) int32 seed pixel (row, col) of each ball.
    """
    height, width = img.shape
    tol = np.int64(np.floor(tau))  # grey levels are integers: |v - s| <= tau <=> <= floor(tau)
    covered = np.zeros(height * width, dtype=np.bool_)
    boxes = np.empty((height * width, 4), dtype=np.int32)
    seeds = np.empty((height * width, 2), dtype=np.int32)
    count = 0
    for k in range(order.size):
        idx = order[k]
        if covered[idx]:
            continue
        r, c = idx // width, idx % width
        r0, c0, r1, c1 = _grow(img, r, c, purity, tol, v_max, purity_growth, purity_cap,
                               reference_stop)
        boxes[count, 0], boxes[count, 1], boxes[count, 2], boxes[count, 3] = r0, c0, r1, c1
        seeds[count, 0], seeds[count, 1] = r, c
        count += 1
        for rr in range(r0, r1 + 1):
            covered[rr * width + c0: rr * width + c1 + 1] = True
    return boxes[:count].copy(), seeds[:count].copy()
