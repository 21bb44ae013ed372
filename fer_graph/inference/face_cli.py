"""The face-step options of the tools that take photos (predict.py, evaluate.py), written once."""

from __future__ import annotations

import argparse

from fer_graph.inference.faces import DETECTOR_CHOICES, LBPFaceDetector, crop_step_for, face_step_for
from fer_graph.faces import FaceStep


def add_face_arguments(parser: argparse.ArgumentParser) -> None:
    """--detect-faces and the options that tune it."""
    parser.add_argument("--detect-faces", action="store_true",
                        help="detect, align and crop the largest face first (dlib HOG + 5 landmarks), "
                             "framed as the checkpoint's training faces")
    parser.add_argument("--face-detector", choices=DETECTOR_CHOICES, default=None,
                        help="dlib HOG (default), dlib CNN (slow on a CPU), hog_cnn (CNN where HOG finds "
                             "nothing: best for photos in the wild) or the LBP cascade (no alignment)")
    parser.add_argument("--face-upsample", type=int, choices=range(4), default=None, metavar="{0..3}",
                        help="image doublings before dlib detection (default 1: faces from ~40 px; 0 is "
                             "faster and enough for faces over ~80 px)")
    parser.add_argument("--face-retry-upsample", type=int, choices=range(4), default=None, metavar="{0..3}",
                        help="where nothing is found, HOG searches again with this many doublings before "
                             "the CNN (default 0: no second search)")
    parser.add_argument("--face-min-score", type=float, default=None, metavar="M",
                        help="drop HOG boxes whose SVM margin is below M (default 0, dlib's own)")
    parser.add_argument("--face-zoom-views", type=float, default=None, metavar="Z",
                        help="also crop each face zoomed out and in by 1 -/+ Z and average the three "
                             "predictions (default: the checkpoint's zoom_views, 0)")
    parser.add_argument("--whole-image-if-no-face", action="store_true",
                        help="use the whole image where no face is found (default: a row saying so)")


def check_face_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, *extra: str) -> None:
    """Stop with a usage error when a face option (or one of ``extra``, by dest) comes without --detect-faces."""
    given = [args.face_detector, args.face_upsample is not None, args.face_zoom_views is not None,
             args.face_retry_upsample is not None, args.face_min_score is not None,
             args.whole_image_if_no_face,
             *(getattr(args, name) for name in extra)]
    if any(given) and not args.detect_faces:
        flags = [f"--{name.replace('_', '-')}" for name in extra]
        flags += ["--face-detector", "--face-upsample", "--face-retry-upsample", "--face-min-score",
                  "--face-zoom-views", "--whole-image-if-no-face"]
        parser.error(f"{', '.join(flags)} need --detect-faces")


def face_step_from_args(config: dict, args: argparse.Namespace, select: str | None = None
                        ) -> FaceStep | LBPFaceDetector | None:
    """The face step the options ask for, with the checkpoint's settings elsewhere. Without
    --detect-faces: the crop step of a checkpoint trained on aligned face crops, else None.

    Raises:
        FaceModelError: dlib or its model files are missing.
        ValueError: a bad setting.
    """
    if not args.detect_faces:
        return crop_step_for(config)
    return face_step_for(config, detector=args.face_detector, select=select,
                         on_missing="whole" if args.whole_image_if_no_face else None, upsample=args.face_upsample,
                         zoom_views=args.face_zoom_views, retry_upsample=args.face_retry_upsample,
                         min_score=args.face_min_score)


def describe_face_step(step: FaceStep | LBPFaceDetector | None) -> dict | None:
    """The face step's settings for a results file (None when images were used whole)."""
    if step is None:
        return None
    if isinstance(step, LBPFaceDetector):
        return {"detector": "lbp", "margin": step.margin, "min_size": step.min_size, "select": step.select}
    return step.params.to_dict()
