"""Measure how a dataset of face crops frames its faces: eye distance and eye height as fractions.

    python benchmarks/measure_framing.py ../shared/datasets/fer2013 --split train --limit 3000

Each crop is upscaled (dlib's detector needs faces of 80 px and more), padded with its edge
pixels so the detector sees the whole face with some context, and run through the face
step's detector and 5-point landmarks. Prints, over the crops where one face was found, the
median and quartiles of: the distance between the eye centres, the height of their midpoint
and its horizontal place (all as fractions of the crop side), and the roll of the eye line.
The medians are the `FRAMINGS` entry of fer_graph/faces/params.py.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

from fer_graph.data.readers import discover
from fer_graph.faces import FaceParams, FaceStep
from fer_graph.faces.framing import crop_landmarks, eye_framing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="a dataset of face crops (any layout fer_graph reads)")
    parser.add_argument("--split", default="train", help="split to sample (train, val, test, all)")
    parser.add_argument("--limit", type=int, default=3000, help="crops sampled (fixed seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--upscale", type=int, default=4, help="crops are enlarged by this factor")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    index = discover(args.root)
    samples = [s for s in index.samples if args.split == "all" or s.split == args.split]
    if not samples:
        print(f"error: no {args.split} samples under {args.root}", file=sys.stderr)
        return 1
    samples = random.Random(args.seed).sample(samples, min(args.limit, len(samples)))
    step = FaceStep(FaceParams(size=48, upsample=0))
    rows = []
    for sample in samples:
        crop = index.load(sample)
        points = crop_landmarks(step, crop, args.upscale)
        if points is not None:
            rows.append(eye_framing(points, crop.shape[0]))
    print(f"{Path(args.root).name} {args.split}: one face found in {len(rows)} of {len(samples)} crops "
          f"({100 * len(rows) / len(samples):.1f}%)")
    for key in ("eye_distance", "eye_height", "eye_center", "roll_degrees"):
        values = np.array([r[key] for r in rows])
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        print(f"  {key:13s} median {median:.3f}  quartiles {q1:.3f} .. {q3:.3f}  mean {values.mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
