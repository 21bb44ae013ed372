"""Granular-ball representation (GBR): image -> rectangles of near-uniform pixels -> graph.

numpy/numba only: this package never imports torch or the model.
"""

import functools
import hashlib
from pathlib import Path

from .build import build_graph
from .graph import EDGE_RULES, FEATURE_NAMES, NUM_FEATURES, BallGraph, GBRParams

__all__ = [
    "BallGraph", "EDGE_RULES", "FEATURE_NAMES", "GBRParams", "NUM_FEATURES", "build_graph",
    "builder_fingerprint",
]


@functools.lru_cache(maxsize=1)
def builder_fingerprint() -> str:
    """Hash of this package's source: graphs stored by other builder code are never reused."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
