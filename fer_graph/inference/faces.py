"""The face step for prediction: dlib detection + alignment (``fer_graph.faces``) with the
checkpoint's settings, or the older LBP cascade (scikit-image) as a fallback.

``face_step_for(loaded, ...)`` builds what ``tools/predict.py --detect-faces`` runs: the
settings of the checkpoint's ``data.face_crop`` when it was trained on face-cropped data (so
a photo is cropped exactly as its training images were), else the FER-2013 framing, at the
model's image size. A checkpoint trained on aligned face crops (``data.face_crop.detector:
crop``) aligns every image the same way without being asked (``crop_step_for``), and its photos
are searched with HOG. Both kinds answer ``run(image) -> list[AlignedFace]``.

The LBP cascade (OpenCV's ``lbpcascade_frontalface``, shipped inside the scikit-image wheel)
crops a square box with a margin and does not align; it reports several faces on many
single-face photos, so it is only used when asked for (``--face-detector lbp``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fer_graph.faces import AlignedFace, FaceParams, FaceRecord, FaceStep
from fer_graph.faces.params import DETECTORS

DETECTOR_CHOICES = (*DETECTORS, "lbp")


def face_params_for(config: dict) -> FaceParams:
    """The face step settings a checkpoint's config implies, at its ``data.image_size``."""
    section = config["data"].get("face_crop", False)
    params = FaceParams.from_section(section) if section is not False else FaceParams()
    return params.with_size(config["data"]["image_size"])


def crop_step_for(config: dict) -> FaceStep | None:
    """The step that a checkpoint trained on aligned face crops runs on every image given as a
    face crop (None for a checkpoint trained on its images as they are)."""
    params = face_params_for(config)
    return FaceStep(replace(params, select="largest")) if params.detector == "crop" else None


def face_step_for(config: dict, detector: str | None = None, select: str | None = None,
                  on_missing: str | None = None, upsample: int | None = None,
                  zoom_views: float | None = None, retry_upsample: int | None = None,
                  min_score: float | None = None) -> FaceStep | LBPFaceDetector:
    """The face step for a checkpoint's config, with the given settings overridden (None keeps).

    Raises:
        ValueError: an unknown detector, selection or on_missing value.
    """
    if detector is not None and detector not in DETECTOR_CHOICES:
        raise ValueError(f"face detector {detector!r} is not one of {', '.join(DETECTOR_CHOICES)}")
    params = face_params_for(config)
    if params.detector == "crop":  # the training images were crops; a photo needs a search
        params = replace(params, detector=FaceParams.detector)
    changes = {k: v for k, v in (("select", select), ("on_missing", on_missing), ("upsample", upsample),
                                 ("zoom_views", zoom_views), ("retry_upsample", retry_upsample),
                                 ("min_score", min_score)) if v is not None}
    if detector == "lbp":
        if changes.get("zoom_views"):
            raise ValueError("zoom_views needs a dlib detector: the LBP cascade does not align")
        for dlib_search in ("upsample", "retry_upsample", "min_score"):
            changes.pop(dlib_search, None)  # the cascade has its own min_size and thresholds
        return LBPFaceDetector(select=changes.get("select", params.select),
                               on_missing=changes.get("on_missing", params.on_missing))
    if detector is not None:
        changes["detector"] = detector
    return FaceStep(replace(params, **changes))


class LBPFaceDetector:
    """Square crops of frontal faces found by an LBP cascade, with a margin; no alignment.

    Args:
        margin: extra border on every side, as a fraction of the face box size (FER crops
            keep the forehead and chin, which a cascade box cuts tightly).
        min_size: smallest face side in pixels the cascade looks for.
        scale_factor, min_neighbors: the cascade's search settings.
        max_side: larger images are searched on a copy shrunk to this side (the search
            cost grows with the pixel count); boxes are mapped back to full size.
        select: ``largest`` face only, or ``all``.
        on_missing: ``skip`` an image without a face, or use it ``whole``.
    """

    def __init__(self, margin: float = 0.2, min_size: int = 24, scale_factor: float = 1.2,
                 min_neighbors: int = 4, max_side: int = 480, select: str = "largest",
                 on_missing: str = "skip") -> None:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self._cascade = Cascade(lbp_frontal_face_cascade_filename())
        self.margin = float(margin)
        self.min_size = int(min_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.max_side = int(max_side)
        self.select = select
        self.on_missing = on_missing

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """All faces as (left, top, right, bottom) in full-image pixels, largest first."""
        grey = _grey_float(image)
        scale = min(1.0, self.max_side / max(grey.shape))
        if scale < 1.0:
            from skimage.transform import rescale

            grey = rescale(grey, scale, anti_aliasing=True)
        side = max(self.min_size, 1)
        found = self._cascade.detect_multi_scale(
            grey, scale_factor=self.scale_factor, step_ratio=1, min_size=(side, side),
            max_size=grey.shape, min_neighbor_number=self.min_neighbors)
        boxes = []
        for f in found:
            top, left, height, width = (int(round(v / scale)) for v in (f["r"], f["c"], f["height"], f["width"]))
            boxes.append((left, top, left + width, top + height))
        return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)

    def run(self, image: np.ndarray) -> list[AlignedFace]:
        """The chosen faces with their margins, clipped to the image, or a record of none."""
        faces = self.detect(image)
        if not faces:
            whole = np.asarray(image) if self.on_missing == "whole" else None
            return [AlignedFace(whole, FaceRecord(found=False, count=0, detector="lbp"))]
        out = []
        for i, box in enumerate(faces[:1] if self.select == "largest" else faces):
            left, top, right, bottom = box
            pad_c, pad_r = round(self.margin * (right - left)), round(self.margin * (bottom - top))
            crop = image[max(top - pad_r, 0):min(bottom + pad_r, image.shape[0]),
                         max(left - pad_c, 0):min(right + pad_c, image.shape[1])]
            record = FaceRecord(found=True, count=len(faces), detector="lbp", index=i, box=box)
            out.append(AlignedFace(np.ascontiguousarray(crop), record))
        return out


def _grey_float(image: np.ndarray) -> np.ndarray:
    """uint8 grey or RGB(A) -> float grey in [0, 1] (ITU-R 601 luma)."""
    image = np.asarray(image, dtype=np.float64) / 255.0
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    return image
