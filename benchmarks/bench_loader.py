"""Peak memory and samples/s of the training loader, streamed or preloaded, as the dataset grows.

    nice -n 19 python benchmarks/bench_loader.py [--sizes 10000 200000] [--workers 2] [--batches 40]

Cases: N synthetic 112 px faces (JPEG files in an image folder, graphs in a store beside them)
and the full FER-2013 training split (../shared/datasets/fer2013 with its store, default
runs/graphs/fer2013.h5, opened read-only). Each case runs in a fresh subprocess through
``training.loaders.make_loader`` with the FER-2013 CPU recipe's augmentation and batch size (64),
so its peak RSS is its own: ``main`` is the process that indexes the dataset, opens the store and
iterates the loader, ``worker`` the largest DataLoader worker. samples/s is over ``--batches``
batches after 5 warm-up batches; the time to build the loader (``setup s``, which includes the
preload's decoding) is apart.

Synthetic data is made once under ``--work`` (reused by later runs) and kept cheap: 512 distinct
faces are drawn and encoded, 512 graphs are taken from the FER-2013 store (48 px, at most 192
nodes; built with ``build_graph`` at 112 px where that store is absent), then
their bytes are written N times under distinct names and their encoded graphs appended N times
to a store, so the figures cover reading, decoding, augmenting and collating N distinct files
and store rows, not building them. The decode figures (one JPEG decode against one row of a
uint8 array in memory) show what a packed image cache could save per sample.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FER2013 = (REPO / ".." / "shared" / "datasets" / "fer2013").resolve()
FER2013_STORE = REPO / "runs" / "graphs" / "fer2013.h5"
CONFIG = REPO / "experiments" / "configs" / "fer2013_cpu.yaml"
DISTINCT = 512
SIZE = 112
CLASSES = 7


def make_synthetic(work: Path, n: int) -> tuple[Path, Path]:
    """An image folder of n 112 px JPEG faces and their graph store, written once."""
    from PIL import Image

    from rich.console import Console

    from fer_graph.data.progress import make_progress
    from fer_graph.data.graph_codec import GraphArrays, encode
    from fer_graph.data.store import GraphStore, GraphStoreWriter
    from fer_graph.data.synthetic import CLASS_NAMES, render_face
    from fer_graph.granular import GBRParams, build_graph

    root, store = work / f"synthetic{n}", work / f"synthetic{n}.h5"
    if (root / "done").is_file() and store.is_file():
        return root, store
    params = GBRParams(image_size=SIZE, max_nodes=192)
    faces = [render_face(0, "train", k % CLASSES, k, size=SIZE) for k in range(DISTINCT)]
    encoded_files = []
    for face in faces:
        buffer = io.BytesIO()
        Image.fromarray(face).save(buffer, format="JPEG", quality=90)
        encoded_files.append(buffer.getvalue())
    if FER2013_STORE.is_file():  # real face graphs without compiling and running the builder
        with GraphStore(FER2013_STORE) as source:
            params = source.params
            graphs = [source.encoded([row]) for row in range(DISTINCT)]
    else:
        graphs = [encode(GraphArrays.from_graphs([build_graph(face, params)]), params) for face in faces]
    ids = [f"train/{CLASS_NAMES[k % CLASSES]}/s{k:07d}.jpg" for k in range(n)]
    for name in CLASS_NAMES:
        (root / "train" / name).mkdir(parents=True, exist_ok=True)
    with make_progress(Console(stderr=True), True) as progress:
        task = progress.add_task(f"writing {n} images", total=n)
        for k, sample_id in enumerate(ids):
            (root / sample_id).write_bytes(encoded_files[k % DISTINCT])
            progress.advance(task)
    with GraphStoreWriter(store, params, CLASS_NAMES, layout="imagefolder", root=str(root)) as writer:
        for start in range(0, n, 4096):
            rows = range(start, min(start + 4096, n))
            parts = [graphs[k % DISTINCT] for k in rows]
            batch = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
            writer.append_encoded([ids[k] for k in rows], [k % CLASSES for k in rows], ["train"] * len(rows), batch)
    (root / "done").write_text("ok")
    return root, store


def decode_figures(root: Path, count: int = 2000) -> dict:
    """Microseconds to decode one image file, and to copy one row of a packed uint8 array."""
    from fer_graph.data.readers import load_image

    files = sorted(root.glob("train/*/*"))[:count]
    start = time.perf_counter()
    images = [load_image(path) for path in files]
    decode_us = (time.perf_counter() - start) / len(files) * 1e6
    packed = np.stack(images)
    start = time.perf_counter()
    for row in range(len(packed)):
        packed[row].copy()
    return {"decode_us": decode_us, "packed_row_us": (time.perf_counter() - start) / len(packed) * 1e6}


def measure(root: str, store: str, loading: str, workers: int, batches: int, image_size: int) -> dict:
    """One case in this process: build the training loader, iterate it, report speed and peak RSS."""
    from fer_graph.data.readers import discover
    from fer_graph.data.store import GraphStore
    from fer_graph.training.config import load_config
    from fer_graph.training.loaders import make_loader

    config = load_config(CONFIG, [f"data.root={root}", f"graphs.store={store}", f"data.loading={loading}",
                                  f"train.num_workers={workers}", f"data.image_size={image_size}",
                                  f"model.img_size={image_size}"])
    started = time.perf_counter()
    index = discover(root)
    graphs = GraphStore(store)
    ids = [s.id for s in index.samples if s.split == "train" and s.id in graphs]
    loader = make_loader(config, index, graphs, ids, train=True, seed=0)
    loader.dataset.set_epoch(1)
    setup = time.perf_counter() - started
    batch_iter = iter(loader)
    for _ in range(5):
        next(batch_iter)
    started, seen = time.perf_counter(), 0
    for _ in range(batches):
        seen += len(next(batch_iter)[2])
    seconds = time.perf_counter() - started
    del batch_iter, loader
    gc.collect()  # ends the workers, so that their peak RSS is counted among the children
    to_mib = 1 / 1024  # ru_maxrss is in KiB on Linux
    return {"samples": len(ids), "setup_s": setup, "samples_per_s": seen / seconds,
            "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * to_mib,
            "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * to_mib}


def run_case(args: argparse.Namespace, name: str, root: Path, store: Path, loading: str, image_size: int) -> dict:
    command = [sys.executable, __file__, "--measure", json.dumps(
        [str(root), str(store), loading, args.workers, args.batches, image_size])]
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise SystemExit(f"case {name} ({loading}) failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{name:>16} {loading:>8} {result['samples']:>8} {result['setup_s']:>8.1f} "
          f"{result['samples_per_s']:>10.0f} {result['main_mib']:>9.0f} {result['worker_mib']:>10.0f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 200_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--work", type=Path, default=Path("/tmp/fer_graph_bench_loader"))
    parser.add_argument("--fer2013-store", type=Path, default=FER2013_STORE)
    parser.add_argument("--preload", action="store_true", help="also measure data.loading=preload (not at the largest N)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*json.loads(args.measure))))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.workers} workers, batch 64, {args.batches} timed batches")
    cases = []
    for n in args.sizes:
        started = time.perf_counter()
        root, store = make_synthetic(args.work, n)
        print(f"synthetic{n}: ready in {time.perf_counter() - started:.0f} s", flush=True)
        cases.append((f"synthetic {n}", root, store, SIZE))
    if FER2013.is_dir() and args.fer2013_store.is_file():
        cases.append(("fer2013 train", FER2013, args.fer2013_store, 48))
    if args.sizes:
        figures = decode_figures(args.work / f"synthetic{args.sizes[0]}")
        print(f"one 112 px JPEG decode {figures['decode_us']:.0f} us, one packed uint8 row "
              f"{figures['packed_row_us']:.1f} us")
    print(f"{'case':>16} {'loading':>8} {'samples':>8} {'setup s':>8} {'samples/s':>10} "
          f"{'main MiB':>9} {'worker MiB':>10}")
    streamed = {}
    for name, root, store, image_size in cases:
        streamed[name] = run_case(args, name, root, store, "stream", image_size)
        if args.preload and name != f"synthetic {max(args.sizes, default=0)}":
            run_case(args, name, root, store, "preload", image_size)
    if len(args.sizes) >= 2:
        small, large = (streamed[f"synthetic {n}"] for n in (min(args.sizes), max(args.sizes)))
        print(f"peak RSS {max(args.sizes)} / {min(args.sizes)}: main {large['main_mib'] / small['main_mib']:.2f}x, "
              f"worker {large['worker_mib'] / small['worker_mib']:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
