"""Faces in scenes: FER-2013 PrivateTest faces re-framed into larger pictures, then found again.

    python benchmarks/bench_face_scenes.py CHECKPOINT ../shared/datasets/fer2013 --limit 1000 --scenes /tmp/scenes

Each sampled face (fixed seed) is enlarged to 120-220 px, turned by up to 20 degrees and
pasted at a random place on a textured 320-480 px ground (``fer_graph.faces.scenes``); the
scenes are written as PNGs under --scenes/<class>/, so ``tools/predict.py CHECKPOINT
--detect-faces`` can be run on them too. Prints, for the dlib face step (the one
``predict.py --detect-faces`` uses) and for the LBP cascade: the share of scenes where
exactly one face is found, and the checkpoint's accuracy on the scenes (a scene without a
face counts as wrong), beside its accuracy on the original crops.
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
from fer_graph.faces.scenes import random_scene
from fer_graph.inference.faces import DETECTOR_CHOICES, face_step_for
from fer_graph.inference.loading import load_model
from fer_graph.inference.predict import Predictor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a FER-2013 checkpoint written by experiments/run.py")
    parser.add_argument("root", help="the FER-2013 image folder (official split)")
    parser.add_argument("--limit", type=int, default=1000, help="PrivateTest faces sampled (fixed seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", default="runs/face_scenes", help="where the scene PNGs are written")
    parser.add_argument("--detectors", nargs="+", default=["hog", "lbp"], choices=DETECTOR_CHOICES)
    parser.add_argument("--upsample", type=int, default=None,
                        help="dlib's image doublings before detection (default: the checkpoint's face settings)")
    parser.add_argument("--batch-size", type=int, default=64)
    return parser.parse_args(argv)


def write_scenes(root: str, out: Path, limit: int, seed: int) -> tuple[list[Path], list[Path], list[int]]:
    """Sample PrivateTest faces and write one scene each; returns crops, scenes and labels."""
    index = discover(root)
    private = [s for s in index.samples if s.split == "test" and Path(s.id).name.startswith("PrivateTest_")]
    chosen = sorted(random.Random(seed).sample(private, min(limit, len(private))), key=lambda s: s.id)
    rng = np.random.default_rng(seed)
    crops, scenes = [], []
    for sample in chosen:
        scene, _ = random_scene(index.load(sample), rng)
        path = out / index.class_names[sample.label] / (Path(sample.id).stem + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene).save(path)
        crops.append(Path(sample.source))
        scenes.append(path)
    return crops, scenes, [s.label for s in chosen]


def accuracy(rows, labels: list[int]) -> float:
    """Share of files whose (only) row predicts its label; a row without a prediction is wrong."""
    return float(np.mean([row.top == label for row, label in zip(rows, labels)]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loaded = load_model(args.checkpoint)
    crops, scenes, labels = write_scenes(args.root, Path(args.scenes), args.limit, args.seed)
    print(f"{len(scenes)} scenes from FER-2013 PrivateTest (seed {args.seed}) in {args.scenes}")
    crop_rows = Predictor(loaded).predict_paths(crops, args.batch_size)
    print(f"original crops: accuracy {100 * accuracy(crop_rows, labels):.2f}%")
    for detector in args.detectors:
        # One pass with every face: the count per scene, and the largest face (row 0) predicted,
        # which is what predict.py --detect-faces gives without --all-faces.
        predictor = Predictor(loaded, face_step_for(loaded.config, detector=detector, select="all",
                                                          upsample=args.upsample))
        start = time.perf_counter()
        rows = predictor.predict_paths(scenes, args.batch_size)
        seconds = time.perf_counter() - start
        per_scene: dict[str, list] = {}
        for row in rows:
            per_scene.setdefault(row.path, []).append(row)
        counts = Counter(sum(r.face.found for r in per_scene[str(p)]) for p in scenes)
        largest = [per_scene[str(p)][0] for p in scenes]
        print(f"{detector}: exactly one face in {100 * counts[1] / len(scenes):.1f}% of scenes (none {counts[0]}, "
              f"two or more {sum(n for k, n in counts.items() if k > 1)}); accuracy on the scenes through the "
              f"largest face {100 * accuracy(largest, labels):.2f}%; {len(scenes) / seconds:.2f} scenes/s "
              f"(wall, detection + alignment + model, shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
