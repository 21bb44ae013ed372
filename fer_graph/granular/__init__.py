"""Granular-ball representation (GBR): image -> rectangles of near-uniform pixels -> graph.

numpy/numba only: this package never imports torch or the model.
"""

from .build import build_graph
from .graph import EDGE_RULES, FEATURE_NAMES, NUM_FEATURES, BallGraph, GBRParams

__all__ = ["BallGraph", "EDGE_RULES", "FEATURE_NAMES", "GBRParams", "NUM_FEATURES", "build_graph"]
