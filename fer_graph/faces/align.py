"""Eye-level alignment: a similarity transform putting the eye centres where a framing wants them.

Coordinates: landmarks are pixel indices (x = column, y = row, as dlib gives them); the
matrices here work in edge coordinates (index + 0.5, the top-left corner of the image at 0),
which is what PIL's affine transform uses and what makes "a fraction of the crop side" exact.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye, image-right eye) centres (x, y) from dlib's 5 points.

    dlib's 5-point model gives the two corners of the image-right eye (points 0, 1), then
    those of the image-left eye (2, 3), then the base of the nose (4).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    return points[2:4].mean(axis=0), points[0:2].mean(axis=0)


def roll_degrees(landmarks: np.ndarray) -> float:
    """Angle of the line from the image-left to the image-right eye, in degrees (clockwise
    on screen, y pointing down); 0 when the eyes are level."""
    left, right = eye_centres(landmarks)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def crop_matrix(landmarks: np.ndarray, size: int, eye_distance: float, eye_height: float,
                eye_center: float) -> np.ndarray:
    """The 2x3 matrix mapping crop edge coordinates (x, y, 1) to image edge coordinates.

    The eye centres land level at (eye_center -/+ eye_distance / 2, eye_height) * size.
    """
    left, right = eye_centres(landmarks)
    vector = right - left
    distance = float(np.hypot(*vector))
    if distance < 1e-6:
        raise ValueError("the two eye centres coincide; cannot align")
    scale = distance / (eye_distance * size)  # image pixels per crop pixel
    cos, sin = vector / distance
    rotation = scale * np.array([[cos, -sin], [sin, cos]])
    midpoint_image = (left + right) / 2 + 0.5
    midpoint_crop = np.array([eye_center * size, eye_height * size])
    offset = midpoint_image - rotation @ midpoint_crop
    return np.hstack([rotation, offset[:, None]])


def crop_to_image(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) crop pixel indices -> image pixel indices through a ``crop_matrix``."""
    points = np.asarray(points, dtype=np.float64) + 0.5
    return points @ matrix[:, :2].T + matrix[:, 2] - 0.5


def image_to_crop(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) image pixel indices -> crop pixel indices (the inverse of ``crop_to_image``)."""
    linear = np.linalg.inv(matrix[:, :2])
    points = np.asarray(points, dtype=np.float64) + 0.5 - matrix[:, 2]
    return points @ linear.T - 0.5


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The size x size crop that ``matrix`` (a ``crop_matrix``) describes; black outside the image.

    Where the crop shrinks the image by 2x or more, the image is first box-reduced by that
    integer factor, so the bicubic sampling does not alias.
    """
    pil = Image.fromarray(np.ascontiguousarray(image))
    factor = int(np.hypot(*matrix[:, 0]))
    if factor >= 2:
        pil = pil.reduce(factor)
        matrix = matrix / factor
    out = pil.transform((size, size), Image.AFFINE, tuple(matrix.ravel()), resample=Image.BICUBIC)
    return np.asarray(out)
