"""How a face crop frames its face: landmarks found on the crop itself, and the eye framing.

Face crops (FER-2013's 48 px faces) are too small and too tight for dlib's detector, so a
crop is enlarged and padded with its edge pixels first; the landmarks are mapped back into
the crop's own pixels.
"""

from __future__ import annotations

import numpy as np

from fer_graph.faces.align import eye_centres, roll_degrees
from fer_graph.faces.step import CROP_UPSCALE, FaceStep, enlarged_crop


def crop_landmarks(step: FaceStep, crop: np.ndarray, upscale: int = CROP_UPSCALE) -> np.ndarray | None:
    """dlib's 5 landmarks (5, 2) in the crop's pixels, or None unless exactly one face is found."""
    padded, pad = enlarged_crop(crop, upscale)
    faces = step.detect(padded)
    if len(faces) != 1:
        return None
    points = step.landmarks(padded, faces[0][0])
    return (points + 0.5 - pad) / upscale - 0.5


def eye_framing(landmarks: np.ndarray, side: int) -> dict[str, float]:
    """Eye distance, eye height and eye centre as fractions of a square crop's side, and the roll."""
    left, right = (p + 0.5 for p in eye_centres(landmarks))  # edge coordinates
    return {"eye_distance": float(np.hypot(*(right - left))) / side,
            "eye_height": float(left[1] + right[1]) / 2 / side,
            "eye_center": float(left[0] + right[0]) / 2 / side,
            "roll_degrees": roll_degrees(landmarks)}
