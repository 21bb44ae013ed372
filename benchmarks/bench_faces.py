"""Speed of the face step (detection + 5 landmarks + aligned crop) on one core.

    OMP_NUM_THREADS=1 python benchmarks/bench_faces.py ../shared/datasets/fer2013 --scenes 100

Scenes as in bench_face_scenes.py (320-480 px, one FER-2013 face each). Prints faces per
second from the CPU time of this process (honest on a shared machine) and from wall time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from fer_graph.data.readers import discover
from fer_graph.faces import FaceParams, FaceStep
from fer_graph.faces.params import DETECTORS
from fer_graph.faces.scenes import random_scene


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="the FER-2013 image folder")
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--detector", default="hog", choices=DETECTORS)
    parser.add_argument("--size", type=int, default=48, help="crop side")
    args = parser.parse_args(argv)
    index = discover(args.root)
    private = [s for s in index.samples if Path(s.id).name.startswith("PrivateTest_")]
    rng = np.random.default_rng(0)
    scenes = [random_scene(index.load(s), rng)[0] for s in random.Random(0).sample(private, args.scenes)]
    step = FaceStep(FaceParams(detector=args.detector, size=args.size))
    step.run(scenes[0])  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    faces = sum(sum(f.record.found for f in step.run(scene)) for scene in scenes)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{args.detector}: {len(scenes)} scenes, {faces} faces; {faces / cpu:.1f} faces/s of CPU time "
          f"({1000 * cpu / len(scenes):.0f} ms per scene), {faces / wall:.1f} faces/s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
