"""The graph a face image becomes: granular balls (rectangles) as nodes, contact as edges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np

# Columns of BallGraph.features. The first ten are the CS-GBSBF reference features
# (pixel units, measured on the blurred grey image the balls were grown on); the last two
# put the centre in [0, 1] so graphs of different image sizes are comparable.
FEATURE_NAMES: tuple[str, ...] = (
    "row", "col", "half_width", "half_height",
    "variance", "mean", "skewness", "max", "min", "entropy",
    "row_norm", "col_norm",
)
NUM_FEATURES = len(FEATURE_NAMES)
EDGE_RULES = ("overlap", "touch")


@dataclass(frozen=True)
class GBRParams:
    """Every parameter of granular-ball representation; defaults are the CS-GBSBF settings.

    Attributes:
        purity: initial purity threshold p (share of pixels within tau of the seed value).
        tau: grey-level tolerance to the seed pixel.
        v_max: growth stops once the rectangle's grey variance reaches this.
        purity_growth: p is multiplied by this after each kept growth step.
        purity_cap: p never exceeds this.
        image_size: the image is resized to image_size x image_size before GBR; None keeps it.
        edge_rule: "touch" joins rectangles sharing a pixel or a side; "overlap" only those
            sharing a pixel (the reference behaviour, which leaves graphs fragmented).
        max_nodes: graph down-sampling (GDS) merges nearest nodes until at most this many remain.
        reference_stop: reproduce the reference's stop-rule quirk (a step after a failed one
            is kept untested when the clipped area did not change); False tests every step.
    """

    purity: float = 0.7
    tau: float = 30.0
    v_max: float = 50.0
    purity_growth: float = 1.005
    purity_cap: float = 0.99
    image_size: int | None = 48
    edge_rule: str = "touch"
    max_nodes: int = 2048
    reference_stop: bool = False

    def __post_init__(self) -> None:
        if self.edge_rule not in EDGE_RULES:
            raise ValueError(f"edge_rule must be one of {EDGE_RULES}, got {self.edge_rule!r}")
        if not 0.0 < self.purity <= 1.0:
            raise ValueError(f"purity must be in (0, 1], got {self.purity}")
        if self.tau < 0:
            raise ValueError(f"tau must be >= 0, got {self.tau}")
        if self.v_max <= 0:
            raise ValueError(f"v_max must be > 0, got {self.v_max}")
        if self.purity_growth <= 0:
            raise ValueError(f"purity_growth must be > 0, got {self.purity_growth}")
        if not 0.0 < self.purity_cap <= 1.0:
            raise ValueError(f"purity_cap must be in (0, 1], got {self.purity_cap}")
        if self.max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {self.max_nodes}")
        if self.image_size is not None and self.image_size < 2:
            raise ValueError(f"image_size must be >= 2 or None, got {self.image_size}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "GBRParams":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"unknown granular-ball parameter(s): {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_section(cls, section: Mapping) -> "GBRParams":
        """The parameters among a config's ``graphs:`` mapping, which also holds other keys
        (store path, workers); every parameter must be present (KeyError naming it)."""
        return cls.from_dict({f.name: section[f.name] for f in fields(cls)})


@dataclass
class BallGraph:
    """One image's granular-ball graph.

    Attributes:
        boxes: (N, 4) int32 rectangles as row_min, col_min, row_max, col_max (inclusive,
            clipped to the image the balls were grown on).
        features: (N, NUM_FEATURES) float32 node features, columns named by FEATURE_NAMES.
        edges: (E, 2) int32 undirected edges, each once with i < j, sorted lexicographically.
        image_shape: (height, width) of the image the balls were grown on.
    """

    boxes: np.ndarray
    features: np.ndarray
    edges: np.ndarray
    image_shape: tuple[int, int]

    @property
    def num_nodes(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def centers(self) -> np.ndarray:
        """(N, 2) float32 normalised (row, col) centres in [0, 1]."""
        return self.features[:, -2:]
