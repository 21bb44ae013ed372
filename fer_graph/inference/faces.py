"""Optional face cropping for uncropped photos: a frontal-face LBP cascade (scikit-image).

The cascade (OpenCV's ``lbpcascade_frontalface``) ships inside the scikit-image wheel
(``skimage.data.lbp_frontal_face_cascade_filename()``), so nothing is downloaded at run time.
OpenCV 5 (what an unpinned opencv-python-headless installs) no longer ships Haar cascades.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

@dataclass(frozen=True)
class FaceCrop:
    """The result of face detection on one image.

    Attributes:
        image: the crop (or the whole image when no face was found).
        box: (row, col, height, width) of the detected face before the margin, or None.
        note: a human-readable note for the output (always set).
    """

    image: np.ndarray
    box: tuple[int, int, int, int] | None
    note: str


class FaceDetector:
    """Crops the largest frontal face, with a margin, from an image.

    Args:
        margin: extra border on every side, as a fraction of the face box size (FER crops
            keep the forehead and chin, which a cascade box cuts tightly).
        min_size: smallest face side in pixels the cascade looks for.
        scale_factor, min_neighbors: the cascade's search settings.
        max_side: larger images are searched on a copy shrunk to this side (the search
            cost grows with the pixel count); boxes are mapped back to full size.
    """

    def __init__(self, margin: float = 0.2, min_size: int = 24, scale_factor: float = 1.2,
                 min_neighbors: int = 4, max_side: int = 480) -> None:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self._cascade = Cascade(lbp_frontal_face_cascade_filename())
        self.margin = float(margin)
        self.min_size = int(min_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.max_side = int(max_side)

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """All faces as (row, col, height, width) in full-image pixels, largest first."""
        grey = _grey_float(image)
        scale = min(1.0, self.max_side / max(grey.shape))
        if scale < 1.0:
            from skimage.transform import rescale

            grey = rescale(grey, scale, anti_aliasing=True)
        side = max(self.min_size, 1)
        found = self._cascade.detect_multi_scale(
            grey, scale_factor=self.scale_factor, step_ratio=1, min_size=(side, side),
            max_size=grey.shape, min_neighbor_number=self.min_neighbors)
        boxes = [tuple(int(round(v / scale)) for v in (f["r"], f["c"], f["height"], f["width"]))
                 for f in found]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)

    def crop(self, image: np.ndarray) -> FaceCrop:
        """The largest face with its margin, clipped to the image; the whole image if none."""
        faces = self.detect(image)
        if not faces:
            return FaceCrop(image=image, box=None, note="no face found: the whole image was used")
        row, col, height, width = faces[0]
        pad_r, pad_c = int(round(self.margin * height)), int(round(self.margin * width))
        r0, c0 = max(row - pad_r, 0), max(col - pad_c, 0)
        r1 = min(row + height + pad_r, image.shape[0])
        c1 = min(col + width + pad_c, image.shape[1])
        note = f"face {width}x{height} at ({col}, {row})"
        if len(faces) > 1:
            note += f", largest of {len(faces)}"
        return FaceCrop(image=np.ascontiguousarray(image[r0:r1, c0:c1]), box=(row, col, height, width),
                        note=note)


def _grey_float(image: np.ndarray) -> np.ndarray:
    """uint8 grey or RGB(A) -> float grey in [0, 1] (ITU-R 601 luma)."""
    image = np.asarray(image, dtype=np.float64) / 255.0
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    return image
