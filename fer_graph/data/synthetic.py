"""A small procedurally drawn face-expression dataset, so the first run works offline.

Each face is drawn with ``skimage.draw`` on a canvas twice the output size and averaged down
2x2 (cheap anti-aliasing). The expression is carried by the mouth (curve, opening, width,
asymmetry), the brows (angle, height) and the eye opening; identity (face shape, eye spacing,
skin tone), pose (shift, rotation, scale), lighting (gradient, contrast) and noise vary, and
every expression parameter is jittered so neighbouring classes overlap a little.

Every sample is a pure function of (seed, split, label, k): ``render_face`` regenerates one
alone, bit-identical to the copy ``write_synthetic_dataset`` wrote.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.draw import ellipse, polygon

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1
# int samples_per_class: the share of each split
SPLIT_SHARES = {"train": 0.7, "val": 0.15, "test": 0.15}

# Mean expression parameters per class, in 48-px face units:
#   curve: mouth-corner lift (+ smile, - frown); open: mouth opening at the centre;
#   width: mouth width factor; asym: one corner raised (disgust sneer);
#   brow_angle: degrees, + raises the inner ends (sad, fear), - lowers them (anger);
#   brow_height: brow above the eye; eye: eye-opening factor.
EXPRESSIONS = {
    "angry":    dict(curve=-0.6, open=0.2, width=0.85, asym=0.0, brow_angle=-24, brow_height=2.0, eye=0.75),
    "disgust":  dict(curve=-0.4, open=0.8, width=0.9, asym=1.3, brow_angle=-12, brow_height=2.6, eye=0.55),
    "fear":     dict(curve=-0.6, open=2.2, width=1.15, asym=0.0, brow_angle=16, brow_height=4.5, eye=1.35),
    "happy":    dict(curve=2.0, open=1.2, width=1.2, asym=0.0, brow_angle=0, brow_height=3.2, eye=0.7),
    "neutral":  dict(curve=0.0, open=0.0, width=1.0, asym=0.0, brow_angle=0, brow_height=3.2, eye=1.0),
    "sad":      dict(curve=-1.6, open=0.0, width=0.95, asym=0.0, brow_angle=18, brow_height=3.2, eye=0.8),
    "surprise": dict(curve=0.0, open=4.5, width=0.62, asym=0.0, brow_angle=4, brow_height=5.5, eye=1.4),
}
# Per-sample jitter (standard deviation) of each parameter.
JITTER = dict(curve=0.45, open=0.5, width=0.08, asym=0.35, brow_angle=6, brow_height=0.7, eye=0.12)


def sample_rng(seed: int, split: str, label: int, k: int) -> np.random.Generator:
    """The generator of one sample: independent of how many other samples are drawn."""
    return np.random.default_rng([seed, SPLITS.index(split), label, k])


def render_face(seed: int, split: str, label: int, k: int, size: int = 48) -> np.ndarray:
    """Draw sample ``k`` of class ``label`` in ``split``; (size, size) uint8 grey."""
    return draw_face(CLASS_NAMES[label], sample_rng(seed, split, label, k), size)


def draw_face(expression: str, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """Draw one face with the given expression, all variation drawn from ``rng``."""
    p = {key: mean + JITTER[key] * rng.standard_normal() for key, mean in EXPRESSIONS[expression].items()}
    canvas = 2 * size
    unit = canvas / 48.0  # face geometry is written in 48-px units
    img = np.zeros((canvas, canvas), np.float64)

    # pose: the face frame (row, col offsets from the face centre) -> canvas pixels
    angle = math.radians(rng.uniform(-10, 10))
    scale = unit * rng.uniform(0.88, 1.08)
    centre = canvas / 2 + unit * rng.uniform(-2.5, 2.5, size=2)
    cos, sin = math.cos(angle), math.sin(angle)

    def to_canvas(rows, cols):
        rows, cols = np.asarray(rows, float), np.asarray(cols, float)
        # counter-clockwise on screen for angle > 0, as skimage's ellipse rotation
        return (centre[0] + scale * (cos * rows - sin * cols),
                centre[1] + scale * (sin * rows + cos * cols))

    def fill_ellipse(r, c, r_radius, c_radius, value, tilt=0.0):
        (cr,), (cc,) = to_canvas([r], [c])
        rr, cc_ = ellipse(cr, cc, max(r_radius * scale, 0.5), max(c_radius * scale, 0.5),
                          shape=img.shape, rotation=angle + tilt)
        img[rr, cc_] = value

    def fill_polygon(rows, cols, value):
        rr, cc = polygon(*to_canvas(rows, cols), shape=img.shape)
        img[rr, cc] = value

    background = rng.uniform(15, 95)
    skin = rng.uniform(125, 215)
    img[:] = background
    face_h, face_w = rng.uniform(19, 21.5), rng.uniform(14.5, 17)
    fill_ellipse(-13.5, 0, 9, face_w * 0.95, rng.uniform(10, 60))  # hair
    fill_ellipse(0, 0, face_h, face_w, skin)
    fill_polygon([-1, 4, 4], [0, -1.6, 1.6], skin - 22)  # nose shadow

    eye_row, eye_gap = -4.5 + rng.normal(0, 0.5), rng.uniform(5.3, 6.6)
    eye_w = rng.uniform(2.3, 2.9)
    for side in (-1, 1):
        opening = max(p["eye"], 0.25) * 1.5
        fill_ellipse(eye_row, side * eye_gap, opening, eye_w, min(skin + 35, 250))
        fill_ellipse(eye_row, side * eye_gap, min(opening, 1.2), 1.1, 25)
        # a brow: a thick bar whose inner end is lifted by brow_angle
        lift = math.tan(math.radians(p["brow_angle"])) * 2.0
        top = eye_row - opening - p["brow_height"]
        inner, outer = side * (eye_gap - 3.2), side * (eye_gap + 3.4)
        fill_polygon([top - lift, top + 0.3, top + 1.6, top - lift + 1.3], [inner, outer, outer, inner],
                     skin * 0.35)

    _mouth(fill_polygon, p, skin, rng)
    return _finish(img, rng, size)


def _mouth(fill_polygon, p: dict, skin: float, rng: np.random.Generator) -> None:
    """Lips between two parabolas meeting at the corners; a dark opening where they part."""
    base = 9.5 + rng.normal(0, 0.4)
    half = 5.2 * max(p["width"], 0.4)
    t = np.linspace(-1.0, 1.0, 17)
    corner = p["curve"] * t ** 2 + p["asym"] * np.clip(t, 0, None)  # lift of the lip line
    opening = max(p["open"], 0.0) * (1 - t ** 2)
    upper = base - corner - opening / 2
    lower = base - corner + opening / 2
    cols = half * t
    thickness = 0.8 * (1 - 0.6 * t ** 2)
    fill_polygon(np.r_[upper - thickness, (lower + thickness)[::-1]], np.r_[cols, cols[::-1]], skin * 0.55)
    if p["open"] > 0.4:
        fill_polygon(np.r_[upper, lower[::-1]], np.r_[cols, cols[::-1]], 30)
        if p["curve"] > 1.0:  # a smile shows the upper teeth
            teeth = upper + np.minimum(opening, 0.9)
            fill_polygon(np.r_[upper, teeth[::-1]], np.r_[cols, cols[::-1]], 225)


def _finish(img: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Downsample 2x2, then lighting gradient, contrast, noise; to uint8."""
    img = img.reshape(size, 2, size, 2).mean(axis=(1, 3))
    direction = rng.uniform(0, 2 * math.pi)
    ramp = np.linspace(-1, 1, size)
    gradient = math.cos(direction) * ramp[:, None] + math.sin(direction) * ramp[None, :]
    img = img + rng.uniform(0, 35) * gradient
    img = (img - img.mean()) * rng.uniform(0.7, 1.25) + img.mean() + rng.uniform(-20, 20)
    img = img + rng.normal(0, rng.uniform(2, 9), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def split_counts(samples_per_class: int | dict) -> dict[str, int]:
    """Images per class for each split; an int is the total per class, shared 70/15/15."""
    if isinstance(samples_per_class, dict):
        unknown = sorted(set(samples_per_class) - set(SPLITS))
        if unknown:
            raise KeyError(f"samples_per_class: unknown split {unknown[0]!r} (use {', '.join(SPLITS)})")
        return {s: int(samples_per_class.get(s, 0)) for s in SPLITS}
    total = int(samples_per_class)
    val = test = max(1, round(total * SPLIT_SHARES["val"]))
    return {"train": total - val - test, "val": val, "test": test}


def write_synthetic_dataset(root: str | os.PathLike, samples_per_class: int | dict | None = None,
                            seed: int = 0, size: int = 48) -> Path:
    """Write the synthetic dataset as ``root/<split>/<class>/<class>_<k>.png`` (layout imagefolder).

    Args:
        root: the dataset folder; must not exist, be empty, or hold this exact dataset.
        samples_per_class: images per class, ``{"train": n, "val": n, "test": n}`` or an int
            total per class (shared 70/15/15); default 400 total.
        seed: the dataset seed.
        size: image side in pixels.

    Returns:
        ``root``. If its ``manifest.json`` records the same arguments nothing is written. The
        folder appears complete or not at all (written beside it, then renamed).

    Raises:
        FileExistsError: ``root`` holds something else.
    """
    root = Path(root)
    counts = split_counts(400 if samples_per_class is None else samples_per_class)
    manifest = {"generator": "fer_graph.data.synthetic", "version": FORMAT_VERSION,
                "samples_per_class": counts, "seed": int(seed), "size": int(size),
                "class_names": list(CLASS_NAMES)}
    manifest_path = root / "manifest.json"
    if manifest_path.is_file() and json.loads(manifest_path.read_text()) == manifest:
        return root
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and holds no synthetic dataset with these "
                              f"arguments ({json.dumps(manifest)}); choose another folder")
    partial = root.with_name(f".{root.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for split, n in counts.items():
        for label, name in enumerate(CLASS_NAMES):
            folder = partial / split / name
            folder.mkdir(parents=True)
            for k in range(n):
                image = render_face(seed, split, label, k, size)
                Image.fromarray(image).save(folder / f"{name}_{k:05d}.png", compress_level=1)
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    root.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, root)
    return root
