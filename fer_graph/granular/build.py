"""build_graph: one image -> its granular-ball graph (the public entry point of GBR)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .balls import grow_balls, seed_order, tie_break_seed
from .edges import box_edges
from .features import box_features
from .gds import downsample
from .graph import BallGraph, GBRParams
from .preprocess import preprocess

_DEFAULT_PARAMS = GBRParams()
# Only these parameters shape the balls; edge_rule and max_nodes are left out of the
# tie-break key so that changing them never changes the partition.
_GROWTH_FIELDS = ("purity", "tau", "v_max", "purity_growth", "purity_cap", "image_size",
                  "reference_stop")


@lru_cache(maxsize=32)
def _growth_key(params: GBRParams) -> bytes:
    """Bytes naming the growth parameters, mixed into the tie-break seed."""
    return repr(tuple(getattr(params, name) for name in _GROWTH_FIELDS)).encode()


def build_graph(image: np.ndarray, params: GBRParams = _DEFAULT_PARAMS) -> BallGraph:
    """Turns an image into its granular-ball graph (CS-GBSBF section 3.2).

    Steps: 8-bit quantisation -> grey (BT.601 luma) -> resize to params.image_size
    (square, rounded to 8 bits; None keeps the size) -> 3x3 Gaussian blur -> Sobel
    gradient -> balls grown from the lowest-gradient uncovered pixel until every pixel is
    covered -> GDS down to params.max_nodes -> node features -> edges under
    params.edge_rule.

    Input scaling: uint8 and integer images are grey levels 0..255; a float image whose
    maximum is <= 1.0 is taken as [0, 1] and scaled by 255, any other float image as
    [0, 255]. Values are rounded to integers, so u and u / 255 give the same graph.

    Stop rule: with params.reference_stop False (default) every growth step is tested and
    an axis closes when its step fails or it cannot grow further (clipped on both sides);
    every ball then passes the purity and variance tests. True reproduces the reference,
    which ends growth, keeping the candidate untested, when a step's clipped area equals
    the previous *evaluated* step's area (after a failed x-step on a square ball, the
    y-step is returned untested).

    Ties in the seed order (equal gradient) follow a permutation seeded by a hash of the
    blurred image and the growth parameters, so the graph depends only on the image and
    params (never on a global RNG, process or call order).

    Args:
        image: HxW or HxWxC (C = 1, 3 or 4) array, uint8/integer in [0, 255] or float.
        params: builder parameters.

    Returns:
        The BallGraph; image_shape is the shape the balls were grown on.

    Raises:
        ValueError: empty, wrongly shaped, NaN/inf or out-of-range input.
    """
    blurred, gradient = preprocess(image, params.image_size)
    height, width = blurred.shape
    seed = tie_break_seed(blurred, _growth_key(params))
    order = seed_order(gradient, seed)
    boxes, _ = grow_balls(blurred, order, float(params.purity), float(params.tau),
                       float(params.v_max), float(params.purity_growth),
                       float(params.purity_cap), bool(params.reference_stop))
    if boxes.shape[0] > params.max_nodes:
        boxes, _ = downsample(boxes, int(params.max_nodes))
    features = box_features(blurred, boxes)
    edges = box_edges(boxes, height, width, params.edge_rule == "touch")
    return BallGraph(boxes=boxes, features=features, edges=edges, image_shape=(height, width))
