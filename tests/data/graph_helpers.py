"""Hand-made graphs for the data tests: exact features without running the builder."""

from __future__ import annotations

import numpy as np

from fer_graph.data.graph_codec import derive_geometry
from fer_graph.granular.graph import NUM_FEATURES, BallGraph


def strip_graph(image: np.ndarray, strips: int) -> BallGraph:
    """Vertical strips as nodes in a chain; geometry as the store derives it, feature 5 the strip's mean."""
    h, w = image.shape
    cuts = np.linspace(0, w, strips + 1).astype(int)
    boxes = np.array([[0, a, h - 1, b - 1] for a, b in zip(cuts[:-1], cuts[1:])], np.int32)
    feats = np.zeros((strips, NUM_FEATURES), np.float32)
    feats[:, [0, 1, 2, 3, 10, 11]] = derive_geometry(boxes, np.tile([h, w], (strips, 1)))
    feats[:, 5] = [float(image[:, a:b].mean()) for a, b in zip(cuts[:-1], cuts[1:])]
    feats[:, 7], feats[:, 8] = 255.0, 0.0
    edges = np.stack([np.arange(strips - 1), np.arange(1, strips)], 1).astype(np.int32)
    return BallGraph(boxes, feats, edges, (h, w))
