"""Faces in photos: dlib detection, 5-landmark alignment and a crop framed like the training faces.

Imports only numpy, PIL and dlib, so the data layer (``data.face_crop``) and inference
(``tools/predict.py --detect-faces``) run the same step.
"""

from fer_graph.faces.params import FRAMINGS, FaceParams
from fer_graph.faces.step import AlignedFace, FaceRecord, FaceStep
from fer_graph.faces.weights import FaceModelError

__all__ = ["FRAMINGS", "AlignedFace", "FaceModelError", "FaceParams", "FaceRecord", "FaceStep"]
