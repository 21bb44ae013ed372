"""Graph-over-face drawings: what is drawn matches the graph; PNGs are written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PatchCollection
from PIL import Image

from fer_graph.granular.graph import FEATURE_NAMES, NUM_FEATURES, BallGraph
from fer_graph.viz.graph_overlay import box_centers, draw_graph_overlay, save_graph_overlay

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _two_halves() -> BallGraph:
    """Left half and right half of an 8x8 image, touching: two nodes, one edge."""
    boxes = np.array([[0, 0, 7, 3], [0, 4, 7, 7]], dtype=np.int32)
    features = np.zeros((2, NUM_FEATURES), dtype=np.float32)
    features[:, FEATURE_NAMES.index("mean")] = [20.0, 230.0]
    return BallGraph(boxes, features, np.array([[0, 1]], dtype=np.int32), (8, 8))


def test_drawing_matches_the_graph():
    graph = _two_halves()
    image = np.zeros((32, 32, 3), dtype=np.uint8)  # any size: stretched onto the 8x8 grid
    fig = draw_graph_overlay(image, graph, feature="mean")
    ax = fig.axes[0]
    patches = [c for c in ax.collections if isinstance(c, PatchCollection)][0]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)][0]
    extents = sorted(tuple(np.round(p.get_extents().bounds, 6)) for p in patches.get_paths())
    assert extents == [(-0.5, -0.5, 4.0, 8.0), (3.5, -0.5, 4.0, 8.0)]  # (x, y, w, h) in pixels
    assert np.allclose(lines.get_segments()[0], [[1.5, 3.5], [5.5, 3.5]])  # centre to centre
    assert np.allclose(box_centers(graph), [[3.5, 1.5], [3.5, 5.5]])
    assert fig.axes[1].get_ylabel() == "mean"  # the colorbar
    assert ax.get_xlim() == (-0.5, 7.5) and ax.get_ylim() == (7.5, -0.5)


def test_unknown_feature_is_refused():
    with pytest.raises(ValueError, match="unknown feature"):
        draw_graph_overlay(np.zeros((8, 8)), _two_halves(), feature="colour")


def _pixel(fig, ax, col: float, row: float) -> np.ndarray:
    """RGB of the rendered figure at a point given in image (col, row) coordinates."""
    x, y = ax.transData.transform((col, row))
    buffer = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    return buffer[buffer.shape[0] - int(round(y)), int(round(x))]


def test_rendered_picture_shows_the_dimmed_face_boxes_and_nodes_where_the_balls_are():
    import matplotlib.pyplot as plt

    graph = _two_halves()
    face = np.zeros((8, 8), np.uint8)
    face[:, 4:] = 250
    fig = draw_graph_overlay(face, graph, feature="mean")
    fig.set_dpi(300)  # node dots a few pixels wide: their centres are pure colour
    fig.canvas.draw()
    ax = fig.axes[0]
    viridis = plt.get_cmap("viridis")
    darkest, brightest = (np.array(viridis(v)[:3]) * 255 for v in (0.0, 1.0))
    # each ball's centre carries its node dot, coloured by the feature (lowest and highest mean)
    assert np.abs(_pixel(fig, ax, 1.5, 3.5) - darkest).max() < 40
    assert np.abs(_pixel(fig, ax, 5.5, 3.5) - brightest).max() < 40
    # inside the right ball, away from dots and edges: the white half, dimmed to 60% over black
    assert np.abs(_pixel(fig, ax, 5.5, 1.0) - 0.6 * 250).max() < 12
    assert _pixel(fig, ax, 1.5, 1.0).max() < 12
    # the shared border at x = 3.5 is drawn (edge colours), unlike the face right beside it
    border, inside = _pixel(fig, ax, 3.5, 1.0), _pixel(fig, ax, 2.5, 1.0)
    assert np.abs(border - inside).max() > 40
    plt.close(fig)


def test_png_is_written(tmp_path):
    out = save_graph_overlay(np.full((8, 8), 128, np.uint8), _two_halves(), tmp_path / "sub" / "g.png", dpi=50)
    with Image.open(out) as png:
        assert png.format == "PNG" and min(png.size) > 100
        pixels = np.asarray(png.convert("RGB")).reshape(-1, 3).astype(int)
    import matplotlib.pyplot as plt

    brightest = np.array(plt.get_cmap("viridis")(1.0)[:3]) * 255
    assert (np.abs(pixels - brightest).max(axis=1) < 30).sum() > 20  # the bright node and its box


def test_draw_graph_tool_from_an_image(tmp_path):
    spec = importlib.util.spec_from_file_location("draw_graph_tool", TOOLS / "draw_graph.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    face = np.asarray(Image.fromarray(np.random.default_rng(0).integers(0, 256, (6, 6), np.uint8)).resize((48, 48)))
    Image.fromarray(face).save(tmp_path / "face.png")
    assert tool.main([str(tmp_path / "face.png"), str(tmp_path / "out.png"), "--feature", "entropy"]) == 0
    assert Image.open(tmp_path / "out.png").format == "PNG"
    assert tool.main([str(tmp_path / "missing.png"), str(tmp_path / "x.png")]) == 1
