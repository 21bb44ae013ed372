"""fer_graph: facial expression recognition with granular-ball graphs (CS-GBSBF)."""

__version__ = "0.1.0"
