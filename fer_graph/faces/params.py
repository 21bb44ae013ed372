"""The face step's settings: detector, face choice and the framing of the aligned crop.

The framing says where the eyes land in the crop, as fractions of its side: the distance
between the eye centres, the height of their midpoint and its horizontal place. The defaults
are measured on FER-2013 training faces (``benchmarks/measure_framing.py``); FERPlus holds the
same faces, so it shares them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from fer_graph.errors import ConfigError

DETECTORS = ("hog", "cnn", "hog_cnn", "blazeface", "hog_blazeface", "hog_cnn_blazeface", "crop")
SELECTIONS = ("largest", "all")
ON_MISSING = ("skip", "whole")

# Eye framing measured by benchmarks/measure_framing.py on 1,500 FER-2013 Training faces
# (medians of the 1,138 where one face was found; quartiles of the eye distance 0.324..0.394,
# of the eye height 0.376..0.421). FERPlus is the same faces. Keys are the `framing` names a
# config can ask for.
FRAMINGS: dict[str, dict[str, float]] = {
    "fer2013": {"eye_distance": 0.360, "eye_height": 0.401, "eye_center": 0.499},
}
FRAMINGS["ferplus"] = FRAMINGS["fer2013"]
# FER-2013's median eye height and centre, zoomed in 1.2x (eye distance 0.43 of the side): the
# crop stays inside the 48 px face for most FER-2013 crops (their eye distance is at most ~0.40
# for three in four), so a model trained on it never sees what lies beyond a face crop, which
# in a photo is the photo and in a FER-2013 crop is nothing.
FRAMINGS["inner"] = {"eye_distance": 0.430, "eye_height": 0.401, "eye_center": 0.499}


@dataclass(frozen=True)
class FaceParams:
    """Every setting of the face step.

    Attributes:
        detector: ``hog`` (dlib's HOG + linear SVM, fast on a CPU), ``cnn`` (dlib's MMOD CNN,
            more robust to pose and tight framing, ~80x slower without a GPU) or ``hog_cnn``
            (HOG, then the CNN on the images where HOG finds no face: about the CNN's recall at
            nearly HOG's speed where most faces are frontal); ``blazeface`` (MediaPipe's
            short-range BlazeFace through LiteRT, ~16 ms a 320-480 px scene with landmarks and
            crop; it finds some faces dlib misses, ``docs/results/face_scenes.md``), and ``hog_blazeface`` / ``hog_cnn_blazeface``
            (BlazeFace only where the dlib detectors before it find none).
        upsample: times the image is doubled before detection (1 finds faces from ~40 px).
        retry_upsample: where no detector finds a face, HOG searches again with the image
            doubled this many times, before the CNN is asked (when above ``upsample``; 0 never):
            small faces are found without doubling every image, which in textured pictures
            also doubles HOG's false faces.
        min_score: HOG boxes whose SVM margin is below this are dropped (dlib's threshold, 0).
        retry_angle: where a detector finds no face upright, it searches the picture turned by
            -/+ this many degrees too (HOG misses faces rolled beyond ~15 degrees); 0 turns it off.
        max_side: larger images are searched on a copy shrunk to this side; landmarks and the
            crop use the full image.
        select: ``largest`` face only, or ``all`` faces (largest first).
        eye_distance: distance between the eye centres, as a fraction of the crop side.
        eye_height: height of the eyes' midpoint from the top, as a fraction of the side.
        eye_center: horizontal place of the eyes' midpoint, as a fraction of the side.
        size: crop side in pixels; 0 means the model's ``data.image_size``.
        zoom_views: with z > 0, prediction also crops each face zoomed out and in (eye distance
            times 1 - z and 1 + z) and averages the three crops' probabilities: FER-2013's own
            crops vary by about +/-10% in eye distance (interquartile), which one fixed framing
            misses. Dataset builds keep the middle crop only.
        on_missing: ``skip`` an image without a face (a recorded row) or use it ``whole``.
    """

    detector: str = "hog"
    upsample: int = 1
    retry_upsample: int = 0
    min_score: float = 0.0
    retry_angle: float = 20.0
    max_side: int = 640
    select: str = "largest"
    eye_distance: float = FRAMINGS["fer2013"]["eye_distance"]
    eye_height: float = FRAMINGS["fer2013"]["eye_height"]
    eye_center: float = FRAMINGS["fer2013"]["eye_center"]
    size: int = 0
    zoom_views: float = 0.0
    on_missing: str = "skip"

    def __post_init__(self) -> None:
        checks = {
            "detector": self.detector in DETECTORS, "select": self.select in SELECTIONS,
            "on_missing": self.on_missing in ON_MISSING, "upsample": 0 <= self.upsample <= 3,
            "retry_upsample": 0 <= self.retry_upsample <= 3, "min_score": -1.0 <= self.min_score <= 2.0,
            "retry_angle": 0.0 <= self.retry_angle <= 45.0,
            "max_side": self.max_side >= 64, "size": self.size >= 0,
            "eye_distance": 0.05 < self.eye_distance < 1.0, "eye_height": 0.0 < self.eye_height < 1.0,
            "eye_center": 0.0 < self.eye_center < 1.0, "zoom_views": 0.0 <= self.zoom_views < 0.5,
        }
        choices = {"detector": DETECTORS, "select": SELECTIONS, "on_missing": ON_MISSING}
        for key, ok in checks.items():
            if not ok:
                allowed = f"one of {', '.join(choices[key])}" if key in choices else "out of range"
                raise ValueError(f"{key}: {getattr(self, key)!r} is {allowed}")

    def to_dict(self) -> dict:
        return asdict(self)

    def with_size(self, size: int) -> FaceParams:
        """These settings with ``size`` filled in where it is 0 (the model's image size)."""
        return self if self.size else replace(self, size=int(size))

    @classmethod
    def from_section(cls, section: bool | dict, key: str = "data.face_crop") -> FaceParams:
        """Settings from a config value: ``true`` (defaults) or a mapping of fields, plus
        ``framing`` naming a measured framing (a key of ``FRAMINGS``).

        Raises:
            ConfigError: an unknown key, a wrong type or a bad value, naming ``key.<field>``.
        """
        if section is True:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError(f"{key}: expected true, false or a mapping, got {section!r}")
        values = dict(section)
        framing = values.pop("framing", None)
        if framing is not None:
            if framing not in FRAMINGS:
                raise ConfigError(f"{key}.framing: must be one of {', '.join(FRAMINGS)}, got {framing!r}")
            values = {**FRAMINGS[framing], **values}
        known = {f.name: f for f in fields(cls)}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"{key}.{name}: unknown key (known here: framing, {', '.join(known)})")
            want = int if known[name].type == "int" else float if known[name].type == "float" else str
            if isinstance(value, bool) or not isinstance(value, (int, float) if want is float else want):
                raise ConfigError(f"{key}.{name}: expected {want.__name__}, got {value!r}")
        try:
            return cls(**values)
        except ValueError as err:
            raise ConfigError(f"{key}.{err}") from err
