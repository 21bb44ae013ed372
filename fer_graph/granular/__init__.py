"""Granular-ball representation (GBR): image -> rectangles of near-uniform pixels -> graph.

numpy/numba only: this package never imports torch or the model.
"""
