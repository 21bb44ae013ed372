"""Drawings (matplotlib, Agg backend): graphs over faces."""

from fer_graph.viz.graph_overlay import draw_graph_overlay, save_graph_overlay

__all__ = ["draw_graph_overlay", "save_graph_overlay"]
