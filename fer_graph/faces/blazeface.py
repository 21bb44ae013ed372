"""BlazeFace, MediaPipe's short-range face detector, run through LiteRT: the face step's
last fallback, for faces neither of dlib's detectors finds (``docs/results/face_scenes.md``).

The model takes a 128x128 RGB picture scaled to [-1, 1] and scores 896 anchors: a 16x16 grid
of stride 8 with 2 anchors per cell, then an 8x8 grid of stride 16 with 6. Each anchor's 16
regression values are the box centre offset, width and height, then 6 keypoints (x, y), all
in 1/128ths of the input side; its score is a logit. Boxes overlapping the best remaining one
by an IoU above 0.3 are merged into it, weighted by score, as MediaPipe does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

INPUT_SIDE = 128
MIN_SCORE = 0.5  # MediaPipe's own threshold for this model
MERGE_IOU = 0.3
_GRIDS = ((16, 2), (8, 6))  # (cells per side, anchors per cell)


@dataclass(frozen=True)
class BlazeDetection:
    """One face: box (left, top, right, bottom) and 6 keypoints (x, y) in image pixels, and its score.

    The keypoints are MediaPipe's: the two eyes, the nose tip, the mouth and the two ear tragions.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float


def anchor_centres() -> np.ndarray:
    """(896, 2) anchor centres (x, y) as fractions of the input side, in the model's output order."""
    centres = []
    for cells, per_cell in _GRIDS:
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres)


def decode(regressors: np.ndarray, logits: np.ndarray, min_score: float = MIN_SCORE
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N, 4) as (left, top, right, bottom), keypoints (N, 6, 2) and scores (N,) of the
    anchors scoring at least ``min_score``, in input fractions."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = scores >= min_score
    raw, anchors = regressors.reshape(-1, 16)[keep] / INPUT_SIDE, anchor_centres()[keep]
    centre, half = raw[:, 0:2] + anchors, raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    return boxes, keypoints, scores[keep]


def merge_overlapping(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                      iou: float = MERGE_IOU) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Weighted non-maximum suppression: the best remaining box and every box overlapping it
    by more than ``iou`` become one, their coordinates averaged by score; best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    merged = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        group = remaining & (_iou(boxes[i], boxes) > iou)
        group[i] = True
        weights = scores[group] / scores[group].sum()
        merged.append((weights @ boxes[group], np.tensordot(weights, keypoints[group], axes=1), float(scores[i])))
        remaining &= ~group
    return merged


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    left, top = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    right, bottom = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


class BlazeFace:
    """The detector: ``BlazeFace(model_path)(image)`` gives every face, best first.

    Args:
        model_path: ``face_detection_short_range.tflite``.
        min_score: lowest face probability kept.
    """

    def __init__(self, model_path: str, min_score: float = MIN_SCORE) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.min_score = min_score
        # LiteRT's own kernels, not its XNNPACK delegate: ~6 ms instead of ~2 ms a picture on
        # one core, without the delegate's start-up line on stderr
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=1,
                                        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"][1:]): d["index"] for d in self._interpreter.get_output_details()}
        self._regressors, self._logits = outputs[(896, 16)], outputs[(896, 1)]

    def __call__(self, image: np.ndarray) -> list[BlazeDetection]:
        """Faces in a uint8 grey or RGB image; coordinates in its pixels (edges, not centres)."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        height, width = image.shape[:2]
        side = max(height, width)
        # letterbox: the picture centred on a black square, so its aspect ratio is kept
        square = np.zeros((side, side, 3), np.uint8)
        top, left = (side - height) // 2, (side - width) // 2
        square[top:top + height, left:left + width] = image[..., :3]
        small = np.asarray(Image.fromarray(square).resize((INPUT_SIDE, INPUT_SIDE), Image.BILINEAR), np.float32)
        self._interpreter.set_tensor(self._input, (small / 127.5 - 1.0)[None])
        self._interpreter.invoke()
        boxes, keypoints, scores = decode(self._interpreter.get_tensor(self._regressors),
                                          self._interpreter.get_tensor(self._logits), self.min_score)
        offset = np.array([left, top], np.float64)
        faces = []
        for box, points, score in merge_overlapping(boxes, keypoints, scores):
            corners = box.reshape(2, 2) * side - offset
            faces.append(BlazeDetection(tuple(float(v) for v in corners.ravel()), points * side - offset, score))
        return faces
