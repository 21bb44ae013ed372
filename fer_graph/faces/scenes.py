"""Scenes with faces at known places: face crops pasted, enlarged and turned, onto a textured ground.

There is no uncropped face dataset among the shared data, so the face step is measured and
tested on FER-2013 crops re-framed into larger pictures; every pasted face keeps the exact
map from its crop to the scene, so where its box and landmarks must be found is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Share of the crop side over which a pasted face fades into the background: a hard square
# edge would be a feature no photo has.
FEATHER = 0.08


@dataclass(frozen=True)
class PlacedFace:
    """Where one crop went: ``matrix`` maps crop edge coordinates (x, y, 1) to scene ones.

    Attributes:
        matrix: 2x3 crop -> scene map (scale ``side / crop side``, then turned by ``angle``).
        center: the crop centre in the scene (x, y), edge coordinates.
        side: the pasted crop's side in scene pixels.
        angle: clockwise turn on screen in degrees.
    """

    matrix: np.ndarray
    center: tuple[float, float]
    side: float
    angle: float

    def to_scene(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) crop pixel indices -> scene pixel indices."""
        points = np.asarray(points, dtype=np.float64) + 0.5
        return points @ self.matrix[:, :2].T + self.matrix[:, 2] - 0.5


def textured_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 picture of gratings, blotches and grain with no face-like structure."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    grey = np.zeros((height, width))
    for _ in range(3):
        theta, period = rng.uniform(0, math.pi), rng.uniform(8, 40)
        grey += rng.uniform(10, 25) * np.sin(2 * math.pi * (cols * math.cos(theta) + rows * math.sin(theta)) / period
                                             + rng.uniform(0, 2 * math.pi))
    coarse = rng.normal(0, 1, (6, 6, 3))
    blotches = np.asarray(Image.fromarray(((coarse - coarse.min()) / np.ptp(coarse) * 255).astype(np.uint8))
                          .resize((width, height), Image.BICUBIC), dtype=np.float64) - 128
    picture = 128 + grey[..., None] + 0.5 * blotches + rng.normal(0, 6, (height, width, 3))
    return np.clip(picture, 0, 255).astype(np.uint8)


def paste_face(scene: np.ndarray, crop: np.ndarray, center: tuple[float, float], side: float,
               angle: float) -> PlacedFace:
    """Paste a grey crop into the RGB ``scene`` (in place), enlarged to ``side`` and turned by ``angle``.

    The crop fades into the scene over its outer ``FEATHER`` share.
    """
    crop = np.asarray(crop)
    if crop.ndim == 3:
        crop = crop[..., :3].mean(axis=2).astype(np.uint8)
    height, width = crop.shape
    scale = side / width
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    linear = scale * np.array([[cos, -sin], [sin, cos]])
    matrix = np.hstack([linear, (np.asarray(center) - linear @ np.array([width / 2, height / 2]))[:, None]])
    inverse = np.linalg.inv(linear)
    back = np.hstack([inverse, (-inverse @ matrix[:, 2])[:, None]])  # scene -> crop
    size = (scene.shape[1], scene.shape[0])
    face = np.asarray(Image.fromarray(crop).transform(size, Image.AFFINE, tuple(back.ravel()),
                                                      resample=Image.BICUBIC), dtype=np.float64)
    fine = 8  # the mask is drawn at 8x the crop's resolution so its ramp stays smooth when enlarged
    ramp_r = np.clip(np.minimum(np.arange(height * fine) + 0.5, height * fine - np.arange(height * fine) - 0.5)
                     / (FEATHER * height * fine), 0, 1)
    ramp_c = np.clip(np.minimum(np.arange(width * fine) + 0.5, width * fine - np.arange(width * fine) - 0.5)
                     / (FEATHER * width * fine), 0, 1)
    mask = Image.fromarray((np.outer(ramp_r, ramp_c) * 255).astype(np.uint8))
    alpha = np.asarray(mask.transform(size, Image.AFFINE, tuple((back * fine).ravel()), resample=Image.BILINEAR),
                       dtype=np.float64)[..., None] / 255
    scene[:] = np.clip(scene * (1 - alpha) + face[..., None] * alpha + 0.5, 0, 255).astype(np.uint8)
    return PlacedFace(matrix=matrix, center=(float(center[0]), float(center[1])), side=float(side),
                      angle=float(angle))


def random_scene(crop: np.ndarray, rng: np.random.Generator, scene_side: tuple[int, int] = (320, 480),
                 face_side: tuple[float, float] = (120, 220), max_angle: float = 20.0
                 ) -> tuple[np.ndarray, PlacedFace]:
    """One crop in a fresh textured scene at a random size, turn and place (all drawn from ``rng``)."""
    height, width = (int(rng.integers(scene_side[0], scene_side[1] + 1)) for _ in range(2))
    side = float(rng.uniform(*face_side))
    side = min(side, 0.8 * min(height, width))
    angle = float(rng.uniform(-max_angle, max_angle))
    reach = side * (abs(math.cos(math.radians(angle))) + abs(math.sin(math.radians(angle)))) / 2
    center = (float(rng.uniform(reach, width - reach)), float(rng.uniform(reach, height - reach)))
    scene = textured_background(height, width, rng)
    return scene, paste_face(scene, crop, center, side, angle)
