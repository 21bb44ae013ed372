"""The face step: detect faces, pick one or all, align each on its 5 landmarks, crop to a framing.

``FaceStep(params).run(image)`` gives one ``AlignedFace`` per chosen face (or one without a
crop when there is none), each with a ``FaceRecord`` of what happened, so predictions and
dataset builds can say which face they used and how it was turned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import math

import numpy as np
from PIL import Image

from fer_graph.faces import weights
from fer_graph.faces.align import crop_matrix, roll_degrees, warp_crop
from fer_graph.faces.params import FaceParams

# The detectors each FaceParams.detector runs, in order, until one finds a face.
SEARCH_ORDER = {"hog": ("hog",), "cnn": ("cnn",), "hog_cnn": ("hog", "cnn"), "blazeface": ("blazeface",),
                "hog_blazeface": ("hog", "blazeface"), "hog_cnn_blazeface": ("hog", "cnn", "blazeface"),
                "crop": ("hog",)}
# detector "crop": a face crop is enlarged this many times and padded with its edge pixels
# before HOG (whose window is 80 px) looks at it; where HOG does not find exactly one face,
# the face is taken at CROP_FACE_BOX, the median HOG box (left, top, right, bottom as fractions
# of the crop side) of the 323 of 400 FER-2013 Training crops where it found exactly one.
CROP_UPSCALE = 4
CROP_FACE_BOX = (0.083, 0.167, 0.922, 0.948)
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
            where none was found, the detector setting. For face crops (detector ``crop``):
            ``crop`` (HOG's box in the enlarged crop) or ``crop_box`` (``CROP_FACE_BOX``).
        search_angle: the turn (degrees, clockwise on screen) of the picture the detector found
            the face in: 0 upright, else ``-/+ FaceParams.retry_angle`` where upright found none.
    """

    found: bool
    count: int
    detector: str
    index: int | None = None
    box: Box | None = None
    score: float | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None
    angle: float | None = None
    search_angle: float | None = None

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
    """One face step result: the crop (None when no face was found and none is used) and its record.

    ``views`` are further crops of the same face at other zooms (``FaceParams.zoom_views``),
    which prediction averages with ``image``.
    """

    image: np.ndarray | None
    record: FaceRecord
    views: tuple[np.ndarray, ...] = ()


class FaceStep:
    """Detect, choose, align and crop faces as ``params`` say (dlib models loaded once per process).

    Args:
        params: the settings; ``params.size`` must be set (``FaceParams.with_size``).
    """

    def __init__(self, params: FaceParams) -> None:
        if params.size <= 0:
            raise ValueError("FaceParams.size is 0; fill in the model's image size with params.with_size(...)")
        self.params = params
        self._searches = [(name, params.upsample) for name in SEARCH_ORDER[params.detector]]
        if params.retry_upsample > params.upsample and "hog" in SEARCH_ORDER[params.detector]:
            self._searches.insert(1, ("hog", params.retry_upsample))
        for name in SEARCH_ORDER[params.detector]:
            _DETECTORS[name]()  # load now, so a missing model file fails here, not mid-dataset
        self._landmarks = weights.landmark_predictor()

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        """Every face as (box, score) in full-image pixels, largest first."""
        return [(found.box, found.score) for found in self._detect(image)[0]]

    def _detect(self, image: np.ndarray) -> tuple[list[_Found], str, float]:
        """The faces, the detector that found them and the turn of the picture they were found in.

        Each detector searches the upright picture, then (with ``retry_angle``) the picture
        turned either way, before the next detector is asked: HOG is trained on upright faces,
        and turning is ~100x cheaper than the CNN. With ``hog_cnn`` the CNN searches only
        where HOG found nothing; a ``retry_upsample`` HOG search comes between the two.
        """
        image = _dlib_image(image)
        if self.params.detector == "crop":
            return _face_in_crop(image)
        angles = (0.0, -self.params.retry_angle, self.params.retry_angle) if self.params.retry_angle else (0.0,)
        for name, upsample in self._searches:
            for angle in angles:
                view, to_image = (image, None) if angle == 0 else _turned(image, angle)
                found = self._search_view(name, upsample, view, image.shape[:2], to_image)
                if found:
                    return found, name, angle
        return [], self.params.detector, 0.0

    def _search_view(self, name: str, upsample: int, view: np.ndarray, image_shape: tuple[int, int],
                     to_image: np.ndarray | None) -> list[_Found]:
        """One detector on one (maybe turned) picture, searched on a copy shrunk to ``max_side``."""
        scale = min(1.0, self.params.max_side / max(view.shape[:2]))
        search = view
        if scale < 1.0:
            size = (max(1, round(view.shape[1] * scale)), max(1, round(view.shape[0] * scale)))
            search = np.asarray(Image.fromarray(view).resize(size, Image.BILINEAR))
        faces = []
        for rect, score in _search(name, search, upsample, self.params.min_score):
            view_box = _clip((round(rect.left() / scale), round(rect.top() / scale),
                              round((rect.right() + 1) / scale), round((rect.bottom() + 1) / scale)), view.shape)
            if view_box is None:
                continue
            box = view_box if to_image is None else _clip(_box_through(to_image, view_box), image_shape)
            if box is not None:
                faces.append(_Found(box, float(score), view, view_box, to_image))
        return sorted(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)

    def landmarks(self, image: np.ndarray, box: Box) -> np.ndarray:
        """dlib's 5 landmarks (5, 2) as (x, y) for the face in ``box``."""
        import dlib

        left, top, right, bottom = box
        shape = self._landmarks(_dlib_image(image), dlib.rectangle(left, top, right - 1, bottom - 1))
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], np.float64)

    def align(self, image: np.ndarray, landmarks: np.ndarray, zoom: float = 1.0) -> np.ndarray:
        """The eye-level crop of the face whose landmarks are given, framed as ``params`` say,
        its eye distance times ``zoom`` (above 1 zooms in)."""
        p = self.params
        matrix = crop_matrix(landmarks, p.size, p.eye_distance * zoom, p.eye_height, p.eye_center)
        image = _dlib_image(image)
        if p.detector == "crop":
            # beyond a face crop there is nothing to show: its edge pixels go on, as in a crop
            # that reached a little further, rather than black
            corners = np.array([[0, 0], [p.size, 0], [0, p.size], [p.size, p.size]], np.float64)
            reach = corners @ matrix[:, :2].T + matrix[:, 2]
            height, width = image.shape[:2]
            margin = 2 + math.ceil(max(0.0, -reach.min(), (reach[:, 0] - width).max(), (reach[:, 1] - height).max()))
            image = np.pad(image, [(margin, margin), (margin, margin)] + [(0, 0)] * (image.ndim - 2), mode="edge")
            matrix = np.hstack([matrix[:, :2], (matrix[:, 2] + margin)[:, None]])
        return warp_crop(image, matrix, p.size)

    def zoomed_views(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, ...]:
        """The zoomed-out and zoomed-in crops ``zoom_views`` asks for (none when it is 0)."""
        z = self.params.zoom_views
        return tuple(self.align(image, landmarks, zoom) for zoom in (1 - z, 1 + z)) if z else ()

    def run(self, image: np.ndarray) -> list[AlignedFace]:
        """The chosen faces of one image (largest first), or one record saying none was found.

        With ``on_missing: whole`` an image without a face is returned whole (record
        ``found=False``); with ``skip`` its result has no image.
        """
        faces, name, search_angle = self._detect(image)
        if not faces:
            whole = np.asarray(image) if self.params.on_missing == "whole" else None
            return [AlignedFace(whole, FaceRecord(found=False, count=0, detector=name))]
        chosen = faces[:1] if self.params.select == "largest" else faces
        out = []
        for i, found in enumerate(chosen):
            points = self.landmarks(found.view, found.view_box)
            if found.to_image is not None:
                points = (points + 0.5) @ found.to_image[:, :2].T + found.to_image[:, 2] - 0.5
            record = FaceRecord(found=True, count=len(faces), detector=name, index=i, box=found.box,
                                score=round(found.score, 4), landmarks=tuple((float(x), float(y)) for x, y in points),
                                angle=round(roll_degrees(points), 3), search_angle=search_angle)
            out.append(AlignedFace(self.align(image, points), record, self.zoomed_views(image, points)))
        return out


@dataclass(frozen=True)
class _Found:
    """A detection: its box in the image, and where landmarks are to be read (the picture searched)."""

    box: Box
    score: float
    view: np.ndarray
    view_box: Box
    to_image: np.ndarray | None  # 2x3 map of the turned picture's edge coordinates to the image's


def enlarged_crop(crop: np.ndarray, upscale: int = CROP_UPSCALE) -> tuple[np.ndarray, int]:
    """A face crop enlarged ``upscale`` times and padded with its edge pixels by half its
    enlarged side, so that dlib's detector sees a face it can take; and that pad in pixels."""
    height, width = crop.shape[:2]
    big = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((width * upscale, height * upscale),
                                                                         Image.BICUBIC))
    pad = max(height, width) * upscale // 2
    return np.ascontiguousarray(np.pad(big, [(pad, pad), (pad, pad)] + [(0, 0)] * (big.ndim - 2), mode="edge")), pad


def _face_in_crop(image: np.ndarray) -> tuple[list[_Found], str, float]:
    """The one face of a face crop: HOG's box in the enlarged, edge-padded crop, or ``CROP_FACE_BOX``."""
    height, width = image.shape[:2]
    view, pad = enlarged_crop(image)
    to_image = np.array([[1.0, 0.0, -pad], [0.0, 1.0, -pad]]) / CROP_UPSCALE
    found = _search("hog", view, 0)
    view_box = None
    if len(found) == 1:
        rect, score = found[0]
        view_box = _clip((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), view.shape)
    name = "crop"
    if view_box is None:
        name, score = "crop_box", 0.0
        left, top, right, bottom = CROP_FACE_BOX
        view_box = (round(pad + left * width * CROP_UPSCALE), round(pad + top * height * CROP_UPSCALE),
                    round(pad + right * width * CROP_UPSCALE), round(pad + bottom * height * CROP_UPSCALE))
    box = _clip(_box_through(to_image, view_box), image.shape) or (0, 0, width, height)
    return [_Found(box, float(score), view, view_box, to_image)], name, 0.0


def _turned(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned ``angle`` degrees clockwise on screen (canvas grown to hold it, edges
    padded black), and the 2x3 map from its edge coordinates back to the image's."""
    height, width = image.shape[:2]
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    out_w = math.ceil(width * abs(cos) + height * abs(sin))
    out_h = math.ceil(width * abs(sin) + height * abs(cos))
    # content at image point p shows at q = R (p - c) + c', R clockwise on screen (y down);
    # so q -> p = R^T (q - c') + c
    back = np.array([[cos, sin], [-sin, cos]])
    offset = np.array([width / 2, height / 2]) - back @ np.array([out_w / 2, out_h / 2])
    to_image = np.hstack([back, offset[:, None]])
    view = Image.fromarray(image).transform((out_w, out_h), Image.AFFINE, tuple(to_image.ravel()),
                                            resample=Image.BILINEAR)
    return np.ascontiguousarray(np.asarray(view)), to_image


def _box_through(matrix: np.ndarray, box: Box) -> Box:
    """The upright bounding box, in the image, of a box of the turned picture."""
    left, top, right, bottom = box
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], np.float64)
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    return (math.floor(mapped[:, 0].min()), math.floor(mapped[:, 1].min()),
            math.ceil(mapped[:, 0].max()), math.ceil(mapped[:, 1].max()))


def _clip(box: Box, shape: tuple[int, ...]) -> Box | None:
    """``box`` cut to an image of ``shape``; None when nothing of it is left."""
    height, width = shape[:2]
    left, top, right, bottom = max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])
    return (left, top, right, bottom) if right > left and bottom > top else None


_DETECTORS = {"hog": weights.hog_detector, "cnn": weights.cnn_detector, "blazeface": weights.blazeface_detector}


def _search(name: str, image: np.ndarray, upsample: int, min_score: float = 0.0) -> list:
    """(dlib rectangle, score) of every face one detector finds in ``image`` (HOG: margin above ``min_score``)."""
    if name == "hog":
        rects, scores, _ = _DETECTORS[name]().run(image, upsample, min_score)
        return list(zip(rects, scores))
    if name == "blazeface":  # no upsampling: the model sees the whole picture at 128x128
        import dlib

        return [(dlib.rectangle(*(round(v) for v in face.box[:2]), *(round(v) - 1 for v in face.box[2:])), face.score)
                for face in _DETECTORS[name]()(image)]
    return [(d.rect, d.confidence) for d in _DETECTORS[name]()(image, upsample)]


def _dlib_image(image: np.ndarray) -> np.ndarray:
    """uint8 grey or RGB, C-contiguous: what dlib's detectors take (alpha dropped)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"face detection needs a uint8 image, got {image.dtype}")
    if image.ndim == 3:
        image = image[..., :3] if image.shape[2] >= 3 else image[..., 0]
    return np.ascontiguousarray(image)
