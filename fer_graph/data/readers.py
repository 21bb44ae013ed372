"""Dataset readers: decode one image robustly (``fer_graph.data.images``), and index a dataset
folder or CSV in its official layout (``fer_graph.data.layouts``, one module per dataset family).

This module gathers both under the import path the rest of the package uses.
"""

from fer_graph.data.images import IMAGE_EXTENSIONS, ImageReadError, crop_box, float_to_uint8, load_image
from fer_graph.data.layouts import LAYOUT_OPTIONS, LAYOUTS, detect_layout, discover, resolve_options
from fer_graph.data.layouts.base import SPLIT_SYNONYMS, DatasetIndex, DatasetLayoutError, Sample
from fer_graph.data.layouts.folders import FER2013_CLASSES, FER2013_SPLITS, ckplus_subject, parse_ckplus_name
from fer_graph.data.layouts.rafdb import RAFDB_CLASSES

__all__ = [
    "FER2013_CLASSES", "FER2013_SPLITS", "IMAGE_EXTENSIONS", "LAYOUTS", "LAYOUT_OPTIONS", "RAFDB_CLASSES",
    "SPLIT_SYNONYMS", "DatasetIndex", "DatasetLayoutError", "ImageReadError", "Sample", "ckplus_subject",
    "crop_box", "detect_layout", "discover", "float_to_uint8", "load_image", "parse_ckplus_name",
    "resolve_options",
]
