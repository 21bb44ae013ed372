"""The face step: detect faces, pick one or all, align each on its 5 landmarks, crop to a framing.

``FaceStep(params).run(image)`` gives one ``AlignedFace`` per chosen face (or one without a
crop when there is none), each with a ``FaceRecord`` of what happened, so predictions and
dataset builds can say which face they used and how it was turned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from fer_graph.faces import weights
from fer_graph.faces.align import crop_matrix, roll_degrees, warp_crop
from fer_graph.faces.params import FaceParams

# The detectors each FaceParams.detector runs, in order, until one finds a face.
SEARCH_ORDER = {"hog": ("hog",), "cnn": ("cnn",), "hog_cnn": ("hog", "cnn")}
Box = tuple[int, int, int, int]  # left, top, right, bottom in image pixels (right, bottom exclusive)


@dataclass(frozen=True)
class FaceRecord:
    """What the face step did with one image (or one face of it).

    Attributes:
        found: a face was found (and, for this record, used).
        count: faces found in the image.
        index: which face this is, 0 being the largest (None when none was found).
        box: the detector's box (left, top, right, bottom) in image pixels.
        score: the detector's score (HOG: SVM margin; CNN: confidence).
        landmarks: the 5 points (x, y) in image pixels: image-right eye corners, image-left
            eye corners, base of the nose.
        angle: roll of the eye line in degrees, undone by the alignment.
        detector: what found the face: ``hog``, ``cnn`` (also under ``hog_cnn``) or ``lbp``;
            where none was found, the detector setting.
    """

    found: bool
    count: int
    detector: str
    index: int | None = None
    box: Box | None = None
    score: float | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None
    angle: float | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.box is not None:
            out["box"] = list(self.box)
        if self.landmarks is not None:
            out["landmarks"] = [list(p) for p in self.landmarks]
        return out

    @property
    def note(self) -> str:
        """One line for tables: the face used, or that none was found."""
        if not self.found:
            return "no face found"
        left, top, right, bottom = self.box
        text = f"face {self.index + 1} of {self.count}: {right - left}x{bottom - top} at ({left}, {top})"
        if self.angle is not None:
            text += f", rotated {-self.angle:+.1f} deg"
        return text


@dataclass(frozen=True)
class AlignedFace:
    """One face step result: the crop (None when no face was found and none is used) and its record."""

    image: np.ndarray | None
    record: FaceRecord


class FaceStep:
    """Detect, choose, align and crop faces as ``params`` say (dlib models loaded once per process).

    Args:
        params: the settings; ``params.size`` must be set (``FaceParams.with_size``).
    """

    def __init__(self, params: FaceParams) -> None:
        if params.size <= 0:
            raise ValueError("FaceParams.size is 0; fill in the model's image size with params.with_size(...)")
        self.params = params
        self._searches = SEARCH_ORDER[params.detector]
        for name in self._searches:
            _DETECTORS[name]()  # load now, so a missing model file fails here, not mid-dataset
        self._landmarks = weights.landmark_predictor()

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        """Every face as (box, score) in full-image pixels, largest first."""
        return self._detect(image)[0]

    def _detect(self, image: np.ndarray) -> tuple[list[tuple[Box, float]], str]:
        """The faces and the detector that found them (with ``hog_cnn``, the CNN searches
        only where HOG found nothing)."""
        image = _dlib_image(image)
        scale = min(1.0, self.params.max_side / max(image.shape[:2]))
        search = image
        if scale < 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            search = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        for name in self._searches:
            found = _search(name, search, self.params.upsample)
            if found:
                break
        height, width = image.shape[:2]
        faces = []
        for rect, score in found:
            box = (max(0, round(rect.left() / scale)), max(0, round(rect.top() / scale)),
                   min(width, round((rect.right() + 1) / scale)), min(height, round((rect.bottom() + 1) / scale)))
            if box[2] > box[0] and box[3] > box[1]:
                faces.append((box, float(score)))
        return sorted(faces, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]), reverse=True), name

    def landmarks(self, image: np.ndarray, box: Box) -> np.ndarray:
        """dlib's 5 landmarks (5, 2) as (x, y) for the face in ``box``."""
        import dlib

        left, top, right, bottom = box
        shape = self._landmarks(_dlib_image(image), dlib.rectangle(left, top, right - 1, bottom - 1))
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], np.float64)

    def align(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The eye-level crop of the face whose landmarks are given, framed as ``params`` say."""
        p = self.params
        matrix = crop_matrix(landmarks, p.size, p.eye_distance, p.eye_height, p.eye_center)
        return warp_crop(_dlib_image(image), matrix, p.size)

    def run(self, image: np.ndarray) -> list[AlignedFace]:
        """The chosen faces of one image (largest first), or one record saying none was found.

        With ``on_missing: whole`` an image without a face is returned whole (record
        ``found=False``); with ``skip`` its result has no image.
        """
        faces, name = self._detect(image)
        if not faces:
            name = self.params.detector
            whole = np.asarray(image) if self.params.on_missing == "whole" else None
            return [AlignedFace(whole, FaceRecord(found=False, count=0, detector=name))]
        chosen = faces[:1] if self.params.select == "largest" else faces
        out = []
        for i, (box, score) in enumerate(chosen):
            points = self.landmarks(image, box)
            record = FaceRecord(found=True, count=len(faces), detector=name, index=i, box=box,
                                score=round(score, 4), landmarks=tuple((float(x), float(y)) for x, y in points),
                                angle=round(roll_degrees(points), 3))
            out.append(AlignedFace(self.align(image, points), record))
        return out


_DETECTORS = {"hog": weights.hog_detector, "cnn": weights.cnn_detector}


def _search(name: str, image: np.ndarray, upsample: int) -> list:
    """(dlib rectangle, score) of every face one detector finds in ``image``."""
    if name == "hog":
        rects, scores, _ = _DETECTORS[name]().run(image, upsample, 0.0)
        return list(zip(rects, scores))
    return [(d.rect, d.confidence) for d in _DETECTORS[name]()(image, upsample)]


def _dlib_image(image: np.ndarray) -> np.ndarray:
    """uint8 grey or RGB, C-contiguous: what dlib's detectors take (alpha dropped)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"face detection needs a uint8 image, got {image.dtype}")
    if image.ndim == 3:
        image = image[..., :3] if image.shape[2] >= 3 else image[..., 0]
    return np.ascontiguousarray(image)
