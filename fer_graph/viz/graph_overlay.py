"""A granular-ball graph drawn over its face (the paper's Figure 1b), saved as PNG."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from fer_graph.granular.graph import FEATURE_NAMES, BallGraph  # noqa: E402


def box_centers(graph: BallGraph) -> np.ndarray:
    """(N, 2) float (row, col) centres of the node rectangles, in image pixels."""
    boxes = graph.boxes.astype(np.float64)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    return image


def draw_graph_overlay(
    image: np.ndarray,
    graph: BallGraph,
    feature: str = "mean",
    ax: plt.Axes | None = None,
    cmap: str = "viridis",
    title: str | None = None,
) -> Figure:
    """Draw node rectangles and centre-to-centre edges over the grey face.

    Args:
        image: the face, any size (stretched onto the graph's ``image_shape`` grid).
        graph: its graph (boxes in ``image_shape`` pixels).
        feature: the node feature (a FEATURE_NAMES entry) that colours rectangles and nodes.
        ax: axes to draw into; a new square figure when None.
        cmap: matplotlib colormap for the feature.
        title: axes title (default: node/edge counts and the feature).

    Returns:
        The figure drawn into.
    """
    if feature not in FEATURE_NAMES:
        raise ValueError(f"unknown feature {feature!r}; choose one of {', '.join(FEATURE_NAMES)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5.2))
    fig = ax.figure
    height, width = graph.image_shape
    # The face is dimmed over black so white edges and bright rectangles stay visible.
    ax.set_facecolor("black")
    ax.imshow(_grey(image), cmap="gray", vmin=0, vmax=255, alpha=0.6,
              extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
    values = graph.features[:, FEATURE_NAMES.index(feature)].astype(np.float64)
    norm = plt.Normalize(values.min(), values.max() if values.max() > values.min() else values.min() + 1)
    rects = [Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1)
             for r0, c0, r1, c1 in graph.boxes.tolist()]
    patches = PatchCollection(rects, facecolor="none", cmap=cmap, norm=norm, linewidths=0.6, alpha=0.8)
    patches.set_array(values)
    patches.set_edgecolor(plt.get_cmap(cmap)(norm(values)))
    ax.add_collection(patches)
    centres = box_centers(graph)[:, ::-1]  # (x, y) = (col, row)
    segments = centres[graph.edges] if graph.num_edges else np.zeros((0, 2, 2))
    ax.add_collection(LineCollection(segments, colors="white", linewidths=0.4, alpha=0.6))
    dots = ax.scatter(centres[:, 0], centres[:, 1], c=values, cmap=cmap, norm=norm, s=6,
                      edgecolors="black", linewidths=0.2, zorder=3)
    fig.colorbar(dots, ax=ax, fraction=0.046, pad=0.03, label=feature)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None
                 else f"{graph.num_nodes} nodes, {graph.num_edges} edges, colour: {feature}")
    return fig


def save_graph_overlay(
    image: np.ndarray,
    graph: BallGraph,
    out_path: str | os.PathLike,
    feature: str = "mean",
    dpi: int = 200,
    **kwargs,
) -> Path:
    """Draw (see ``draw_graph_overlay``) and save a PNG; returns its path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig = draw_graph_overlay(image, graph, feature=feature, **kwargs)
    fig.savefig(out_path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out_path
