"""The component figure: size, layout, and that colour lands where the attribution is."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from fer_graph.granular.build import build_graph
from fer_graph.granular.graph import BallGraph
from fer_graph.viz.components import (caption, draw_components, save_components, scaled_positive,
                                      scaled_range)

GREY_FACE = np.full((48, 48), 128, np.uint8)


def _two_box_graph() -> BallGraph:
    """Left and right halves of a 48 x 48 image as two nodes joined by one edge."""
    boxes = np.array([[0, 0, 47, 23], [0, 24, 47, 47]], dtype=np.int32)
    return BallGraph(boxes=boxes, features=np.zeros((2, 12), np.float32),
                     edges=np.array([[0, 1]], np.int32), image_shape=(48, 48))


def _panel_pixels(fig, ax) -> np.ndarray:
    """RGB pixels inside one axes of a drawn figure."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(np.int32)
    box = ax.get_window_extent()
    height = rgba.shape[0]
    top, bottom = int(height - box.y1) + 2, int(height - box.y0) - 2
    return rgba[top:bottom, int(box.x0) + 2:int(box.x1) - 2]


def _colourfulness(pixels: np.ndarray) -> float:
    """Mean spread between colour channels (0 for grey pixels)."""
    return float((pixels.max(axis=-1) - pixels.min(axis=-1)).mean())


def test_scaled_positive_clips_and_scales_each_row():
    values = np.array([[-1.0, 0.5, 2.0], [-3.0, -1.0, 0.0]])
    out = scaled_positive(values)
    np.testing.assert_allclose(out, [[0.0, 0.25, 1.0], [0.0, 0.0, 0.0]])


def test_scaled_range_spans_zero_to_one_per_row():
    values = np.array([[10.0, 10.5, 11.0], [-2.0, -2.0, -2.0]])
    np.testing.assert_allclose(scaled_range(values), [[0.0, 0.5, 1.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("with_nodes", [True, False])
def test_png_has_the_figure_size(tmp_path, with_nodes):
    k, dpi, panel = 3, 40, 1.5
    image = (np.random.default_rng(0).random((64, 50)) * 255).astype(np.uint8)
    graph = build_graph(image)
    nodes = np.random.default_rng(1).normal(size=(k, graph.num_nodes)) if with_nodes else None
    out = save_components(tmp_path / "c.png", image, np.random.default_rng(2).normal(size=(k, 4, 4)),
                          np.full(k, 1 / k), graph, nodes, title="t", dpi=dpi, panel_size=panel)
    rows = 2 if with_nodes else 1
    with Image.open(out) as png:
        assert png.size == (round(panel * (k + 2) * dpi), round((panel * rows + 0.9) * dpi))
        assert png.format == "PNG"


def test_cam_colour_sits_where_the_map_is_positive():
    cam = np.zeros((2, 4, 4))
    cam[0, :2, :2] = 1.0  # component 1: top-left only
    cam[1] = -1.0  # component 2: no positive evidence anywhere
    fig = draw_components(GREY_FACE, cam, np.array([0.7, 0.3]))
    try:
        first, second = fig.axes[0], fig.axes[1]
        pixels = _panel_pixels(fig, first)
        h, w = pixels.shape[:2]
        assert _colourfulness(pixels[: h // 4, : w // 4]) > 60
        assert _colourfulness(pixels[-h // 4:, -w // 4:]) < 5
        assert _colourfulness(_panel_pixels(fig, second)) < 5
        assert "none > 0" in second.get_title()
    finally:
        plt.close(fig)


def test_node_colour_fills_the_attributed_rectangle():
    """Node maps are relative: a common offset shared by all nodes does not hide the order."""
    graph = _two_box_graph()
    nodes = np.array([[5.2, 5.0], [-3.0, -2.9]])
    fig = draw_components(GREY_FACE, np.zeros((2, 3, 3)), np.array([0.5, 0.5]), graph, nodes)
    try:
        node_axes = fig.axes[2:4]
        for ax, hot_left in zip(node_axes, (True, False)):
            pixels = _panel_pixels(fig, ax)
            w = pixels.shape[1]
            left, right = _colourfulness(pixels[:, : w // 2 - 3]), _colourfulness(pixels[:, w // 2 + 3:])
            assert (left > right + 30) if hot_left else (right > left + 30)
        assert node_axes[0].get_title().endswith("mean +")
        assert node_axes[1].get_title().endswith("mean \N{MINUS SIGN}")
    finally:
        plt.close(fig)


def test_weight_bars_and_titles():
    weights = np.array([0.1, 0.6, 0.3])
    fig = draw_components(GREY_FACE, np.ones((3, 2, 2)), weights)
    try:
        bar_axes = fig.axes[-1]
        widths = [patch.get_width() for patch in bar_axes.patches]
        np.testing.assert_allclose(widths, weights)
        assert "W=0.60" in fig.axes[1].get_title()
    finally:
        plt.close(fig)
    with pytest.raises(ValueError):
        draw_components(GREY_FACE, np.ones((3, 2, 2)), np.ones(2) / 2)


def test_caption_names_predicted_and_explained_class():
    names = ["angry", "happy", "sad"]
    assert caption(names, np.array([0.1, 0.7, 0.2]), 1) == "predicted happy (0.70)"
    assert caption(names, np.array([0.1, 0.7, 0.2]), 2) == "predicted happy (0.70), explaining sad"
