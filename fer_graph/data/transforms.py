"""Image transforms that keep the granular-ball graph consistent with the image.

Every geometric step (pad-and-crop or resized crop, small rotation, horizontal flip) is an
affine map of normalised continuous image coordinates ``u = (pixel + 0.5) / size`` in [0, 1]
(row, col). The image is warped by it and the graph's node centres and boxes are moved by the
same map, in the graph's own frame (``graph.image_shape``, often smaller than the training
image), so the graph is never rebuilt during training. Colour jitter touches the image only.

The YAML ``data:`` mapping drives it: ``image_size``, ``in_chans`` (1, or 3 with grey
replicated), ``mean``/``std`` (scalars or per-channel lists, default 0.5/0.5) and
``augmentation`` with keys ``enabled`` [true], ``crop`` [pad | resized | none], ``padding``
[image_size // 12], ``scale`` [[0.8, 1.0]], ``ratio`` [[0.75, 1.3333]], ``hflip`` [0.5],
``rotation`` (max degrees) [0], ``brightness`` [0], ``contrast`` [0].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numba
import numpy as np
import torch
import torch.nn.functional as F

from fer_graph.data.graph_codec import GEOMETRY_COLUMNS
from fer_graph.granular.graph import BallGraph

_GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, what PIL's convert("L") uses


@dataclass(frozen=True)
class Affine:
    """``u' = A @ u + b`` on normalised (row, col) coordinates in [0, 1]."""

    A: np.ndarray = field(default_factory=lambda: np.eye(2))
    b: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def then(self, other: "Affine") -> "Affine":
        """This map followed by ``other``."""
        return Affine(other.A @ self.A, other.A @ self.b + other.b)

    @staticmethod
    def hflip() -> "Affine":
        return Affine(np.diag([1.0, -1.0]), np.array([0.0, 1.0]))

    @staticmethod
    def crop(top: float, left: float, height: float, width: float) -> "Affine":
        """Crop the window (top, left, height, width), all as fractions of the image, to full size."""
        return Affine(np.diag([1.0 / height, 1.0 / width]), np.array([-top / height, -left / width]))

    @staticmethod
    def rotation(degrees: float) -> "Affine":
        """Rotate about the image centre (positive: counter-clockwise as displayed)."""
        t = math.radians(degrees)
        # (row, col) with rows pointing down: a counter-clockwise turn on screen
        rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        return Affine(rot, np.full(2, 0.5) - rot @ np.full(2, 0.5))


def transform_graph(graph: BallGraph, affine: Affine) -> BallGraph:
    """Move a graph's node centres and boxes by an affine map of normalised coordinates.

    Centres and boxes are clipped to the graph's frame; a box becomes the bounding box of its
    mapped rectangle and the half sizes follow; edges and intensity features are unchanged.
    Flips, integer shifts and quarter turns are exact.
    """
    height, width = graph.image_shape
    size = np.array([height, width], dtype=np.float64)
    # in pixel units, an axis-aligned rectangle's half extents map to those of the bounding
    # box of its image: |A_pixel| @ half (exact for crops, flips and quarter turns)
    stretch = np.abs(affine.A * size[:, None] / size[None, :])
    features, boxes = _move_nodes(np.ascontiguousarray(graph.features, dtype=np.float32),
                                  np.ascontiguousarray(graph.boxes, dtype=np.int32),
                                  np.asarray(affine.A, dtype=np.float64),
                                  np.asarray(affine.b, dtype=np.float64), size, stretch,
                                  float(max(height - 1, 1)), float(max(width - 1, 1)))
    return BallGraph(boxes=boxes, features=features, edges=graph.edges, image_shape=graph.image_shape)


@numba.njit(cache=True)
def _move_nodes(features, boxes, A, b, size, stretch, row_span, col_span):  # pragma: no cover (jitted)
    """``transform_graph``'s arithmetic, node by node, in float64.

    Numba rather than numpy: a graph has ~200 nodes, so numpy's per-call overhead was most of
    a training batch's graph time. Each value is computed with the operations numpy used, in the
    same order. A 2x2 product is written out as ``x0 * a0 + x1 * a1``, where BLAS may have fused
    it into one FMA, so a rotation could differ from the numpy form in the last float64 bit; on
    6,400 FER-2013 graphs under random rotations the float32 features and boxes were identical.
    """
    row, col, half_w, half_h, row_norm, col_norm = GEOMETRY_COLUMNS
    out = features.copy()
    moved_boxes = np.empty_like(boxes)
    top_row, top_col = size[0] - 1.0, size[1] - 1.0
    for i in range(features.shape[0]):
        u0 = (np.float64(features[i, row]) + 0.5) / size[0]
        u1 = (np.float64(features[i, col]) + 0.5) / size[1]
        r = min(max((u0 * A[0, 0] + u1 * A[0, 1] + b[0]) * size[0] - 0.5, 0.0), top_row)
        c = min(max((u0 * A[1, 0] + u1 * A[1, 1] + b[1]) * size[1] - 0.5, 0.0), top_col)
        out[i, row], out[i, col] = r, c
        out[i, row_norm], out[i, col_norm] = r / row_span, c / col_span
        # half_width is (cols - 1) / 2 (features.py): stretch the continuous half extent cols / 2
        hh = np.float64(features[i, half_h]) + 0.5
        hw = np.float64(features[i, half_w]) + 0.5
        out[i, half_h] = max(hh * stretch[0, 0] + hw * stretch[0, 1] - 0.5, 0.0)
        out[i, half_w] = max(hh * stretch[1, 0] + hw * stretch[1, 1] - 0.5, 0.0)
        # boxes as continuous extents [min, max + 1): centre and half extent per axis
        lo0, lo1 = np.float64(boxes[i, 0]), np.float64(boxes[i, 1])
        hi0, hi1 = np.float64(boxes[i, 2]) + 1.0, np.float64(boxes[i, 3]) + 1.0
        m0, m1 = (lo0 + hi0) / 2.0 / size[0], (lo1 + hi1) / 2.0 / size[1]
        e0, e1 = (hi0 - lo0) / 2.0, (hi1 - lo1) / 2.0
        centre0 = (m0 * A[0, 0] + m1 * A[0, 1] + b[0]) * size[0]
        centre1 = (m0 * A[1, 0] + m1 * A[1, 1] + b[1]) * size[1]
        half0 = e0 * stretch[0, 0] + e1 * stretch[0, 1]
        half1 = e0 * stretch[1, 0] + e1 * stretch[1, 1]
        new_lo0 = min(max(np.floor(centre0 - half0 + 0.5), 0.0), top_row)
        new_lo1 = min(max(np.floor(centre1 - half1 + 0.5), 0.0), top_col)
        moved_boxes[i, 0], moved_boxes[i, 1] = new_lo0, new_lo1
        moved_boxes[i, 2] = min(max(max(np.floor(centre0 + half0 + 0.5) - 1.0, new_lo0), 0.0), top_row)
        moved_boxes[i, 3] = min(max(max(np.floor(centre1 + half1 + 0.5) - 1.0, new_lo1), 0.0), top_col)
    return out, moved_boxes


@dataclass(frozen=True)
class Augment:
    """Training augmentation settings (see the module docstring for the YAML keys)."""

    crop: str = "pad"
    padding: int | None = None
    scale: tuple[float, float] = (0.8, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    rotation: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0

    def __post_init__(self) -> None:
        if self.crop not in ("pad", "resized", "none"):
            raise ValueError(f"data.augmentation.crop must be pad, resized or none, got {self.crop!r}")
        if not 0.0 <= self.hflip <= 1.0:
            raise ValueError(f"data.augmentation.hflip is a probability in [0, 1], got {self.hflip}")


class PairTransform:
    """Turn a uint8 image (HxW or HxWx3) and its graph into a normalised tensor and moved graph.

    Args:
        image_size: output height and width.
        in_chans: 1 (grey) or 3 (RGB; grey images are replicated).
        mean, std: normalisation, scalars or one value per channel.
        augment: training augmentation, or None for evaluation (resize + normalise only).
    """

    def __init__(self, image_size: int = 48, in_chans: int = 3, mean: float | Sequence[float] = 0.5,
                 std: float | Sequence[float] = 0.5, augment: Augment | None = None) -> None:
        if in_chans not in (1, 3):
            raise ValueError(f"data.in_chans must be 1 or 3, got {in_chans}")
        self.image_size = int(image_size)
        self.in_chans = in_chans
        self.mean = _per_channel(mean, in_chans, "mean")
        self.std = _per_channel(std, in_chans, "std")
        if (self.std <= 0).any():
            raise ValueError("data.std must be positive")
        self.augment = augment

    def __call__(self, image: np.ndarray, graph: BallGraph | None = None,
                 rng: np.random.Generator | None = None) -> tuple[torch.Tensor, BallGraph | None]:
        """Transform one pair; ``rng`` drives the augmentation (required when augmenting)."""
        x = self._to_tensor(image)
        affine = Affine()
        if self.augment is not None:
            if rng is None:
                raise ValueError("a training transform needs a numpy Generator")
            x, affine = self._augment(x, rng)
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        if graph is not None and self.augment is not None:
            graph = transform_graph(graph, affine)
        return x.contiguous(), graph

    def _to_tensor(self, image: np.ndarray) -> torch.Tensor:
        """uint8 HxW[xC] -> float (in_chans, S, S) in [0, 1], resized with antialiasing."""
        x = torch.from_numpy(np.ascontiguousarray(image)).float().div_(255.0)
        x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)[:3]
        if self.in_chans == 1 and x.shape[0] == 3:
            x = torch.tensordot(torch.tensor(_GREY), x, dims=1)[None]
        if x.shape[1:] != (self.image_size, self.image_size):
            x = F.interpolate(x[None], size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=True)[0]
        if self.in_chans == 3 and x.shape[0] == 1:
            x = x.expand(3, -1, -1)
        return x

    def _augment(self, x: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, Affine]:
        aug, s = self.augment, self.image_size
        affine = Affine()
        if aug.crop == "pad":
            pad = s // 12 if aug.padding is None else int(aug.padding)
            if pad > 0:
                dy, dx = (int(v) for v in rng.integers(-pad, pad + 1, size=2))
                x = _shift(x, dy, dx)
                affine = affine.then(Affine.crop(dy / s, dx / s, 1.0, 1.0))
        elif aug.crop == "resized":
            top, left, h, w = _resized_crop_window(s, aug.scale, aug.ratio, rng)
            x = F.interpolate(x[None, :, top:top + h, left:left + w], size=(s, s), mode="bilinear",
                              align_corners=False, antialias=True)[0]
            affine = affine.then(Affine.crop(top / s, left / s, h / s, w / s))
        if aug.rotation > 0:
            rot = Affine.rotation(float(rng.uniform(-aug.rotation, aug.rotation)))
            x = warp_image(x, rot)
            affine = affine.then(rot)
        if rng.random() < aug.hflip:
            x = torch.flip(x, dims=[-1])
            affine = affine.then(Affine.hflip())
        if aug.brightness > 0 or aug.contrast > 0:
            x = _jitter(x, aug, rng)
        return x, affine


def mirror_pair(x: torch.Tensor, graph: BallGraph | None) -> tuple[torch.Tensor, BallGraph | None]:
    """The left-right mirror of a transformed (C, H, W) tensor and of its graph (flip TTA)."""
    mirrored = transform_graph(graph, Affine.hflip()) if graph is not None else None
    return torch.flip(x, dims=[-1]), mirrored


def _per_channel(value: float | Sequence[float], chans: int, key: str) -> torch.Tensor:
    values = [float(value)] if np.isscalar(value) else [float(v) for v in value]
    if len(values) == 1:
        values = values * chans
    if len(values) != chans:
        raise ValueError(f"data.{key} has {len(values)} values for {chans} channels")
    return torch.tensor(values)


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[r, c] = x[r + dy, c + dx]``, zero outside: pad-and-crop with integer offsets."""
    _, h, w = x.shape
    out = torch.zeros_like(x)
    rs, re_ = max(0, -dy), min(h, h - dy)
    cs, ce = max(0, -dx), min(w, w - dx)
    if rs < re_ and cs < ce:
        out[:, rs:re_, cs:ce] = x[:, rs + dy:re_ + dy, cs + dx:ce + dx]
    return out


def _resized_crop_window(size: int, scale: Sequence[float], ratio: Sequence[float],
                         rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A random (top, left, h, w) window of area fraction in ``scale``, aspect in ``ratio``."""
    area = size * size
    log_ratio = np.log(ratio)
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= size and 0 < h <= size:
            return int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1)), h, w
    return 0, 0, size, size


def warp_image(x: torch.Tensor, affine: Affine) -> torch.Tensor:
    """Resample ``x`` so that content at u moves to ``affine(u)`` (bilinear, zero fill)."""
    inv = np.linalg.inv(affine.A)
    # grid_sample wants output -> input in (x=col, y=row) coordinates of [-1, 1]
    v_b = inv @ (np.ones(2) - 2.0 * affine.b) - 1.0
    theta = torch.tensor([[inv[1, 1], inv[1, 0], v_b[1]], [inv[0, 1], inv[0, 0], v_b[0]]],
                         dtype=x.dtype)[None]
    grid = F.affine_grid(theta, [1, *x.shape], align_corners=False)
    return F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def _jitter(x: torch.Tensor, aug: Augment, rng: np.random.Generator) -> torch.Tensor:
    brightness = float(rng.uniform(1 - aug.brightness, 1 + aug.brightness))
    contrast = float(rng.uniform(1 - aug.contrast, 1 + aug.contrast))
    mean = x.mean()
    return ((x - mean) * contrast + mean).mul(brightness).clamp_(0.0, 1.0)


def build_transforms(data: dict) -> tuple[PairTransform, PairTransform]:
    """(train, eval) transforms from the YAML ``data:`` mapping; unknown augmentation keys raise.

    Raises:
        KeyError: an unknown ``data.augmentation`` key (named).
        ValueError: a bad value (named).
    """
    common = dict(image_size=data.get("image_size", 48), in_chans=data.get("in_chans", 3),
                  mean=data.get("mean", 0.5), std=data.get("std", 0.5))
    settings = dict(data.get("augmentation") or {})
    enabled = bool(settings.pop("enabled", True))
    known = {f for f in Augment.__dataclass_fields__}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise KeyError(f"data.augmentation.{unknown[0]}: unknown key (known: enabled, {', '.join(sorted(known))})")
    for key in ("scale", "ratio"):
        if key in settings:
            settings[key] = tuple(float(v) for v in settings[key])
    augment = Augment(**settings) if enabled else None
    return PairTransform(**common, augment=augment), PairTransform(**common)

