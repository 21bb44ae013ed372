"""Faces in scenes: FER-2013 test faces (PrivateTest by default) re-framed into larger pictures, then found again.

    python benchmarks/bench_face_scenes.py CHECKPOINT ../shared/datasets/fer2013 --limit 1000 --scenes /tmp/scenes

Each sampled face (fixed seed) is enlarged to 120-220 px, turned by up to 20 degrees and
pasted at a random place on a textured 320-480 px ground (``fer_graph.faces.scenes``); the
scenes are written as PNGs under --scenes/<class>/, so ``tools/predict.py CHECKPOINT
--detect-faces`` can be run on them too. Prints, for the dlib face step (the one
``predict.py --detect-faces`` uses) and for the LBP cascade: the share of scenes where
exactly one face is found, and the checkpoint's accuracy on the scenes (a scene without a
face counts as wrong), beside its accuracy on the original crops (aligned first where the
checkpoint was trained on aligned crops, ``data.face_crop.detector: crop``, as its evaluation was).

With ``--breakdown``, the gap between the crops and the scenes is split into its causes, on
the faces whose own crop dlib can place landmarks on (``crop_landmarks``): the framing applied
to the crop itself (its edge pixels filling in beyond it), the scene undone exactly
(resampling only), the crop's landmarks carried into the scene and cropped to the framing
with the face's own roll kept (framing, with the scene's ground where the framing reaches past
the pasted crop), then levelled as the face step does (levelling), then the face step itself
(detection and landmark error in the scene).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from fer_graph.data.readers import discover
from fer_graph.faces.align import crop_matrix, warp_crop
from fer_graph.faces.framing import crop_landmarks
from fer_graph.faces.scenes import PlacedFace, random_scene
from fer_graph.inference.faces import DETECTOR_CHOICES, face_step_for
from fer_graph.inference.loading import load_model
from fer_graph.inference.predict import Predictor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a FER-2013 checkpoint written by experiments/run.py")
    parser.add_argument("root", help="the FER-2013 image folder (official split)")
    parser.add_argument("--limit", type=int, default=1000, help="faces sampled (fixed seed)")
    parser.add_argument("--split", choices=("PrivateTest", "PublicTest"), default="PrivateTest",
                        help="FER-2013 part the faces come from: choose face-step settings on PublicTest "
                             "(the validation part), then report PrivateTest once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", default="runs/face_scenes", help="where the scene PNGs are written")
    parser.add_argument("--detectors", nargs="+", default=["hog", "lbp"], choices=DETECTOR_CHOICES)
    parser.add_argument("--upsample", type=int, default=None,
                        help="dlib's image doublings before detection (default: the checkpoint's face settings)")
    parser.add_argument("--retry-upsample", type=int, default=None,
                        help="dlib: where nothing is found, HOG searches again at this upsample (FaceParams.retry_upsample)")
    parser.add_argument("--min-score", type=float, default=None, help="dlib: HOG margin floor (FaceParams.min_score)")
    parser.add_argument("--zoom-views", type=float, nargs="+", default=[None],
                        help="FaceParams.zoom_views values to measure, each a pass over the scenes "
                             "(default: the checkpoint's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--breakdown", action="store_true",
                        help="split the crop-to-scene accuracy gap into resampling, framing, levelling and detection")
    return parser.parse_args(argv)


def write_scenes(root: str, out: Path, limit: int, seed: int, split: str = "PrivateTest"
                 ) -> tuple[list[Path], list[Path], list[int], list[PlacedFace]]:
    """Sample faces of one FER-2013 part and write one scene each; returns crops, scenes, labels
    and placements."""
    index = discover(root)
    pool = [s for s in index.samples if Path(s.id).name.startswith(f"{split}_")]
    chosen = sorted(random.Random(seed).sample(pool, min(limit, len(pool))), key=lambda s: s.id)
    rng = np.random.default_rng(seed)
    crops, scenes, placements = [], [], []
    for sample in chosen:
        scene, placed = random_scene(index.load(sample), rng)
        placements.append(placed)
        path = out / index.class_names[sample.label] / (Path(sample.id).stem + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene).save(path)
        crops.append(Path(sample.source))
        scenes.append(path)
    return crops, scenes, [s.label for s in chosen], placements


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 map ``outer`` after ``inner`` (both edge-coordinate affine maps)."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])


def breakdown(loaded, step, crops: list[Path], scenes: list[Path], labels: list[int],
              placements: list[PlacedFace], detected: dict[str, list], batch_size: int) -> None:
    """Print the accuracy of each stage between the original crops and the face step's scene crops."""
    from fer_graph.data.readers import load_image

    size = step.params.size
    predictor = Predictor(loaded)
    stages: dict[str, list[np.ndarray]] = {"original crops": [],
                                           "framing on the crop itself, edges replicated, roll kept": [],
                                           "scene undone exactly (resampling)": [],
                                           "+ framing, the face's own roll kept": [], "+ levelled (oracle landmarks)": []}
    kept = []
    for i, (crop_path, scene_path, placed) in enumerate(zip(crops, scenes, placements)):
        crop = load_image(crop_path)
        points = crop_landmarks(step, crop)
        if points is None:
            continue
        kept.append(i)
        scene = load_image(scene_path)
        to_crop_pixels = np.diag([crop.shape[1] / size, crop.shape[0] / size, 1.0])[:2]
        levelled = crop_matrix(points, size, step.params.eye_distance, step.params.eye_height, step.params.eye_center)
        # the same scale and eye midpoint as the levelled crop, without its turn
        eyes_target = np.array([step.params.eye_center, step.params.eye_height]) * size
        eyes_in_crop = levelled[:, :2] @ eyes_target + levelled[:, 2]
        scale = float(np.hypot(*levelled[:, 0]))
        unturned = np.hstack([scale * np.eye(2), (eyes_in_crop - scale * eyes_target)[:, None]])
        stages["original crops"].append(crop)
        # the same framing without the scene: where it reaches past the crop, the crop's own
        # edge pixels fill in, instead of the scene's ground beside the pasted face
        margin = max(crop.shape)
        padded = np.pad(crop, [(margin, margin), (margin, margin)] + [(0, 0)] * (crop.ndim - 2), mode="edge")
        shifted = np.hstack([unturned[:, :2], (unturned[:, 2] + margin)[:, None]])
        stages["framing on the crop itself, edges replicated, roll kept"].append(warp_crop(padded, shifted, size))
        stages["scene undone exactly (resampling)"].append(warp_crop(scene, compose(placed.matrix, to_crop_pixels), size))
        stages["+ framing, the face's own roll kept"].append(warp_crop(scene, compose(placed.matrix, unturned), size))
        stages["+ levelled (oracle landmarks)"].append(warp_crop(scene, compose(placed.matrix, levelled), size))
    subset = [labels[i] for i in kept]
    print(f"breakdown on the {len(kept)} of {len(crops)} faces whose crop dlib places landmarks on:")
    for name, images in stages.items():
        probs = np.concatenate([predictor.predict_images(images[j:j + batch_size])
                                for j in range(0, len(images), batch_size)])
        print(f"  {name}: {100 * np.mean(probs.argmax(axis=1) == subset):.2f}%")
    for detector, rows in detected.items():
        print(f"  {detector} face step on the scenes: {100 * accuracy([rows[i] for i in kept], subset):.2f}%")


def on_placed_face(row, placed: PlacedFace) -> bool:
    """The row's face box has its centre within a third of the pasted crop's side of the crop's centre."""
    left, top, right, bottom = row.face.box
    return max(abs((left + right) / 2 - placed.center[0]), abs((top + bottom) / 2 - placed.center[1])) < placed.side / 3


def accuracy(rows, labels: list[int]) -> float:
    """Share of files whose (only) row predicts its label; a row without a prediction is wrong."""
    return float(np.mean([row.top == label for row, label in zip(rows, labels)]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loaded = load_model(args.checkpoint)
    crops, scenes, labels, placements = write_scenes(args.root, Path(args.scenes) / args.split, args.limit,
                                                     args.seed, args.split)
    print(f"{len(scenes)} scenes from FER-2013 {args.split} (seed {args.seed}) in {args.scenes}/{args.split}")
    crop_predictor = Predictor(loaded)
    aligned = " (each aligned by the checkpoint's crop step, as in training)" if crop_predictor.faces else ""
    crop_rows = crop_predictor.predict_paths(crops, args.batch_size)
    print(f"original crops{aligned}: accuracy {100 * accuracy(crop_rows, labels):.2f}%")
    if args.breakdown and crop_predictor.faces:
        print("--breakdown is for checkpoints trained on the crops as they are; this one aligns them")
        return 2
    detected: dict[str, list] = {}
    dlib_step = None
    for detector, zoom in ((d, z) for d in args.detectors for z in (args.zoom_views if d != "lbp" else [None])):
        # One pass with every face: the count per scene, and the largest face (row 0) predicted,
        # which is what predict.py --detect-faces gives without --all-faces.
        step = face_step_for(loaded.config, detector=detector, select="all", upsample=args.upsample, zoom_views=zoom,
                             retry_upsample=args.retry_upsample, min_score=args.min_score)
        name = detector if zoom is None else f"{detector}, zoom_views {zoom:g}"
        predictor = Predictor(loaded, step)
        start = time.perf_counter()
        rows = predictor.predict_paths(scenes, args.batch_size)
        seconds = time.perf_counter() - start
        per_scene: dict[str, list] = {}
        for row in rows:
            per_scene.setdefault(row.path, []).append(row)
        found = [sum(r.face.found for r in per_scene[str(p)]) for p in scenes]
        counts = Counter(found)
        on_face = sum(n == 1 and on_placed_face(per_scene[str(p)][0], placed)
                      for p, n, placed in zip(scenes, found, placements))
        largest = [per_scene[str(p)][0] for p in scenes]
        detected[name] = largest
        if detector != "lbp":
            dlib_step = step
        odd = [f"{p} {n} " + " ".join(f"{r.face.box}:{r.face.score}:{r.face.detector}"
                                      for r in per_scene[str(p)] if r.face.found)
               for p, n in zip(scenes, found) if n != 1]
        (Path(args.scenes) / f"not_one_face_{args.split}_{name.replace(', ', '_').replace(' ', '')}.txt").write_text(
            "\n".join(odd) + "\n")
        print(f"{name}: exactly one face in {100 * counts[1] / len(scenes):.1f}% of scenes (none {counts[0]}, "
              f"two or more {sum(n for k, n in counts.items() if k > 1)}), on the pasted face in "
              f"{100 * on_face / len(scenes):.1f}%; accuracy on the scenes through the "
              f"largest face {100 * accuracy(largest, labels):.2f}%; {len(scenes) / seconds:.2f} scenes/s "
              f"(wall, detection + alignment + model, shared machine)")
    if args.breakdown:
        if dlib_step is None:
            print("--breakdown needs a dlib detector among --detectors")
            return 2
        breakdown(loaded, dlib_step, crops, scenes, labels, placements, detected, args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
