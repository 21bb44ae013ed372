"""Per-image granular-ball graph benchmark on real FER-2013 faces (a script, not a test).

Prints, for 48, 112 and 224 px (FER-2013 faces are 48x48, so 112/224 are upsampled):
build_graph time per image (single thread, after warm-up), node and edge counts, connected
components under both edge rules, GDS activity, and peak memory.

    python benchmarks/bench_gbr.py [--count 500] [--root ../shared/datasets/fer2013]
"""

from __future__ import annotations

import os

# One core, one thread: set before numba/numpy start their thread pools.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy.sparse import coo_matrix  # noqa: E402
from scipy.sparse.csgraph import connected_components  # noqa: E402

from fer_graph.granular import GBRParams, build_graph  # noqa: E402
from fer_graph.granular.balls import grow_balls, seed_order, tie_break_seed  # noqa: E402
from fer_graph.granular.edges import box_edges  # noqa: E402
from fer_graph.granular.preprocess import preprocess  # noqa: E402

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "fer2013"
SIZES = (48, 112, 224)
WARMUP = 20
# Each face is built this many times: the machine is shared, so the per-face minimum CPU
# time estimates the algorithm's cost and the spread of all wall times shows the noise.
REPEATS = 3


def load_faces(root: Path, count: int) -> list[np.ndarray]:
    """`count` faces spread evenly over the sorted file list (every split and class)."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    step = max(1, len(files) // count)
    return [np.asarray(Image.open(p).convert("L")) for p in files[::step][:count]]


def components(num_nodes: int, edges: np.ndarray) -> tuple[int, int]:
    """(number of connected components, number of isolated nodes)."""
    adjacency = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                           shape=(num_nodes, num_nodes))
    count = connected_components(adjacency, directed=False)[0]
    degree = np.bincount(edges.ravel(), minlength=num_nodes)
    return int(count), int(np.sum(degree == 0))


def ball_count(face: np.ndarray, params: GBRParams) -> int:
    """Balls grown before GDS (the public API only returns the down-sampled graph)."""
    blurred, gradient = preprocess(face, params.image_size)
    key = repr(tuple(getattr(params, f) for f in ("purity", "tau", "v_max", "purity_growth",
                                                  "purity_cap", "image_size",
                                                  "reference_stop"))).encode()
    boxes, _ = grow_balls(blurred, seed_order(gradient, tie_break_seed(blurred, key)),
                          params.purity, params.tau, params.v_max, params.purity_growth,
                          params.purity_cap, params.reference_stop)
    return len(boxes)


def bench_size(faces: list[np.ndarray], size: int) -> None:
    params = GBRParams(image_size=size)
    for face in faces[:WARMUP]:
        build_graph(face, params)
    cpu, wall, nodes, edges = [], [], [], []
    comps = {"touch": [], "overlap": []}
    isolated = {"touch": [], "overlap": []}
    for face in faces:
        face_cpu = []
        for _ in range(REPEATS):
            start_cpu, start_wall = time.thread_time(), time.perf_counter()
            graph = build_graph(face, params)
            face_cpu.append(time.thread_time() - start_cpu)
            wall.append(time.perf_counter() - start_wall)
        cpu.append(min(face_cpu))
        nodes.append(graph.num_nodes)
        edges.append(graph.num_edges)
        for rule in comps:
            rule_edges = (graph.edges if rule == "touch"
                          else box_edges(graph.boxes, size, size, False))
            count, alone = components(graph.num_nodes, rule_edges)
            comps[rule].append(count)
            isolated[rule].append(alone)
    cpu_ms, wall_ms = np.asarray(cpu) * 1e3, np.asarray(wall) * 1e3
    balls = np.asarray([ball_count(face, params) for face in faces])
    merged = balls > params.max_nodes
    print(f"\n== {size}x{size} px, {len(faces)} faces, edge_rule=touch,"
          f" max_nodes={params.max_nodes}")
    # CPU time is what one core spends; wall time also counts waiting for a shared core.
    for label, ms in ((f"cpu  (best of {REPEATS})", cpu_ms), ("wall (every run)", wall_ms)):
        print(f"{label:17s} median {np.median(ms):.3f} ms  p90 {np.percentile(ms, 90):.3f} ms"
              f"  min {ms.min():.3f} ms  ({len(ms) / ms.sum() * 1e3:.0f} images/s)")
    print(f"nodes           mean {np.mean(nodes):.0f}  max {np.max(nodes)}")
    print(f"edges (touch)   mean {np.mean(edges):.0f}  max {np.max(edges)}")
    print(f"GDS             ran on {merged.sum()}/{len(faces)} faces; balls before GDS "
          f"mean {balls.mean():.0f} max {balls.max()}")
    for rule in ("touch", "overlap"):
        c, iso = np.asarray(comps[rule]), np.asarray(isolated[rule])
        print(f"components {rule:7s} mean {c.mean():.1f}  max {c.max()}  connected "
              f"{np.mean(c == 1) * 100:.0f}% of graphs  isolated nodes mean {iso.mean():.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT.resolve())
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    if not args.root.is_dir():
        print(f"skipped: FER-2013 folder {args.root} is absent")
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    faces = load_faces(args.root, args.count)
    print(f"{len(faces)} FER-2013 faces from {args.root}; one thread pinned to one core")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for size in SIZES:
        bench_size(faces, size)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak RSS {rss_after / 1024:.0f} MiB"
          f" (after loading faces: {rss_before / 1024:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
