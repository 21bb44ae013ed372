"""The component figure (the paper's Figure 6): one PNG with K visual CAMs, K node maps and W.

Row 1 holds, for each visual component C_k^v, its class activation map over the face; row 2
holds, for each spatial component C_k^s, its attribution painted into the graph's rectangles;
the right column is a bar chart of the fusion weights W. How much a component counts is W
(titles and bars); the panels show where it looks:

- image row: Grad-CAM as usual, ReLU-ed and divided by its maximum per panel;
- node row: scaled min-to-max per panel. An AGM "global" term adds the same vector to every
  node of the last SREN layer, so node attributions share a large common part and vary by a
  few percent around it; ReLU-and-max would paint every node alike. The title gives the sign
  of the mean attribution (+: C_k^s raises component k's fusion score here, -: lowers it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from fer_graph.granular.graph import BallGraph  # noqa: E402

CAM_CMAP = "jet"
NODE_CMAP = "inferno"


def scaled_positive(values: np.ndarray) -> np.ndarray:
    """ReLU, then divide each row by its maximum (zero rows stay zero)."""
    values = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    flat = values.reshape(values.shape[0], -1)
    peak = flat.max(axis=1, keepdims=True)
    return (flat / np.where(peak > 0, peak, 1.0)).reshape(values.shape)


def scaled_range(values: np.ndarray) -> np.ndarray:
    """Each row scaled linearly from its minimum (0) to its maximum (1); constant rows become 0."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    low = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - low
    return ((flat - low) / np.where(span > 0, span, 1.0)).reshape(values.shape)


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    return image[..., :3] @ np.array([0.299, 0.587, 0.114]) if image.ndim == 3 else image


def _face(ax: plt.Axes, image: np.ndarray, frame: tuple[int, int]) -> tuple[float, float, float, float]:
    """Draw the grey face stretched over a (height, width) frame; returns the extent used."""
    height, width = frame
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    ax.imshow(_grey(image), cmap="gray", extent=extent, interpolation="bilinear")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xticks([])
    ax.set_yticks([])
    return extent


def _node_panel(ax: plt.Axes, image: np.ndarray, graph: BallGraph, values: np.ndarray) -> None:
    """Rectangles filled by attribution (opacity grows with it), strongest drawn last."""
    _face(ax, image, graph.image_shape)
    order = np.argsort(values)
    rects = [Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1)
             for r0, c0, r1, c1 in graph.boxes[order].tolist()]
    ax.add_collection(PatchCollection(rects, facecolors=_heat(values[order], NODE_CMAP, 0.85),
                                      edgecolors=(0, 0, 0, 0.15), linewidths=0.2))


def _heat(values: np.ndarray, cmap: str, opacity: float) -> np.ndarray:
    """RGBA colours whose alpha follows the value, so zero attribution leaves the face visible."""
    rgba = plt.get_cmap(cmap)(values)
    rgba[..., 3] = opacity * np.sqrt(values)  # sqrt: weak but non-zero evidence stays visible
    return rgba


def draw_components(
    image: np.ndarray,
    visual_maps: np.ndarray,
    weights: np.ndarray,
    graph: BallGraph | None = None,
    node_maps: np.ndarray | None = None,
    title: str | None = None,
    panel_size: float = 1.8,
) -> Figure:
    """Draw the component figure.

    Args:
        image: the face (uint8 HxW or HxWx3, any size), stretched over every panel.
        visual_maps: (K, h, w) signed visual-component maps covering the whole image (any
            resolution, stretched; pass them upsampled for smooth panels).
        weights: (K,) fusion weights W.
        graph: the image's graph (needed for the node row).
        node_maps: (K, N) signed node attributions of the spatial components, or None.
        title: figure title.
        panel_size: side of one panel in inches.

    Returns:
        The figure (2 x K panels plus the W bar chart; one row without node maps).
    """
    visual_maps = np.asarray(visual_maps)
    weights = np.asarray(weights, dtype=np.float64)
    k = visual_maps.shape[0]
    if weights.shape != (k,):
        raise ValueError(f"{k} visual maps but weights of shape {weights.shape}")
    rows = 2 if node_maps is not None and graph is not None else 1
    frame = graph.image_shape if graph is not None else image.shape[:2]
    height = panel_size * rows + 0.9  # 0.5 in for the titles above, 0.4 in for the W axis labels
    fig = plt.figure(figsize=(panel_size * (k + 2), height))
    # an empty spacer column keeps the bar chart's labels clear of the last panel
    grid = fig.add_gridspec(rows, k + 2, width_ratios=[1] * k + [0.3, 1.7], wspace=0.08, hspace=0.25,
                            left=0.02, right=0.98, bottom=0.4 / height, top=1 - 0.5 / height)
    cams = scaled_positive(visual_maps)
    best = int(np.argmax(weights))
    for i in range(k):
        ax = fig.add_subplot(grid[0, i])
        extent = _face(ax, image, frame)
        ax.imshow(_heat(cams[i], CAM_CMAP, 0.7), extent=extent, interpolation="bilinear")
        empty = "" if cams[i].any() else ", none > 0"
        ax.set_title(f"$C_{{{i + 1}}}^v$ W={weights[i]:.2f}{empty}", fontsize=8,
                     fontweight="bold" if i == best else "normal")
    if rows == 2:
        nodes = scaled_range(node_maps)
        for i in range(k):
            ax = fig.add_subplot(grid[1, i])
            _node_panel(ax, image, graph, nodes[i])
            sign = "+" if np.mean(node_maps[i]) >= 0 else "\N{MINUS SIGN}"
            ax.set_title(f"$C_{{{i + 1}}}^s$ on nodes, mean {sign}", fontsize=8)
    bar = fig.add_subplot(grid[:, k + 1])
    labels = [f"k={i + 1}" for i in range(k)]
    colours = ["tab:orange" if i == best else "tab:blue" for i in range(k)]
    bar.barh(labels, weights, color=colours)
    bar.axvline(1.0 / k, color="grey", linestyle="--", linewidth=0.8)
    bar.invert_yaxis()
    bar.set_xlabel("fusion weight W (dashed: uniform 1/K)", fontsize=8)
    bar.set_title("W (RFN, Eq. 6)", fontsize=9)
    bar.tick_params(labelsize=8)
    if rows == 2:
        fig.axes[k].set_ylabel(f"graph, {graph.num_nodes} nodes", fontsize=8)
    fig.axes[0].set_ylabel("image", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.04 / height, va="top")
    return fig


def save_components(out_path: str | os.PathLike, *args, dpi: int = 100, **kwargs) -> Path:
    """Draw (``draw_components(*args, **kwargs)``) and save a PNG of exactly figsize x dpi pixels."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig = draw_components(*args, **kwargs)
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)
    return out_path


def caption(class_names: Sequence[str], probabilities: np.ndarray, target: int) -> str:
    """A one-line caption: predicted class with probability and the class explained."""
    top = int(np.argmax(probabilities))
    text = f"predicted {class_names[top]} ({probabilities[top]:.2f})"
    if target != top:
        text += f", explaining {class_names[target]}"
    return text
