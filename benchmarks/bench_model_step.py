"""Training-step time of CS-GBSBF against the VREN-only baseline with the same backbone.

Measures forward + backward + Adam step at batch 16, the two models alternating step by
step in one process so both see the same machine load, and prints parameter counts per
part. Graphs come from fer_graph.granular.build.build_graph when it exists, else random
geometric graphs of the size granular-ball graphs have at 48 px (300-600 nodes, ~3 edges
per node).

    HF_HUB_OFFLINE=1 python benchmarks/bench_model_step.py [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from fer_graph.data.graph_batch import GraphBatch, collate_graphs
from fer_graph.granular.graph import NUM_FEATURES, BallGraph
from fer_graph.models import CSGBSBFLoss, create_model


def random_ball_graph(rng: np.random.Generator, size: int = 48) -> BallGraph:
    """A random geometric graph with feature scales like granular-ball graphs."""
    n = int(rng.integers(300, 601))
    centre = rng.uniform(0, size, (n, 2))
    half = rng.uniform(0.5, 3.0, (n, 2))
    boxes = np.concatenate([centre - half, centre + half], axis=1).clip(0, size - 1).astype(np.int32)
    stats = np.stack([
        rng.uniform(0, 2500, n), rng.uniform(0, 255, n), rng.normal(0, 1, n),
        rng.uniform(0, 255, n), rng.uniform(0, 255, n), rng.uniform(0, 8, n),
    ], axis=1)
    features = np.concatenate([centre, half, stats, centre / size], axis=1).astype(np.float32)
    dist = np.linalg.norm(centre[:, None] - centre[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    near = np.argsort(dist, axis=1)[:, :3]
    pairs = np.sort(np.stack([np.repeat(np.arange(n), 3), near.ravel()], axis=1), axis=1)
    edges = np.unique(pairs, axis=0).astype(np.int32)
    return BallGraph(boxes=boxes, features=features, edges=edges, image_shape=(size, size))


def make_graphs(batch: int, seed: int) -> tuple[GraphBatch, str]:
    rng = np.random.default_rng(seed)
    try:
        from fer_graph.granular.build import build_graph
    except ImportError:
        return collate_graphs([random_ball_graph(rng) for _ in range(batch)]), "random geometric"
    from scipy.ndimage import gaussian_filter

    images = [gaussian_filter(rng.uniform(0, 255, (48, 48)), 1.5).astype(np.uint8) for _ in range(batch)]
    return collate_graphs([build_graph(image) for image in images]), "build_graph on smoothed noise"


def count(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def bench(backbone: str, img_size: int, steps: int, batch: int, backend: str) -> None:
    torch.manual_seed(0)
    graphs, source = make_graphs(batch, seed=0)
    assert graphs.x.shape[1] == NUM_FEATURES
    images = torch.randn(batch, 3, img_size, img_size)
    targets = torch.randint(0, 7, (batch,))
    common = {"backbone": backbone, "img_size": img_size}
    models = {
        "vren_only": create_model({**common, "name": "vren_only"}),
        "cs_gbsbf": create_model({**common, "graph_backend": backend}),
    }
    loss_fn = CSGBSBFLoss()
    optims = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
    times: dict[str, list[float]] = {k: [] for k in models}

    def step(name: str) -> float:
        start = time.perf_counter()
        out = models[name](images, graphs)
        total, _ = loss_fn(out, targets)
        optims[name].zero_grad(set_to_none=True)
        total.backward()
        optims[name].step()
        return time.perf_counter() - start

    for _ in range(2):
        for name in models:
            step(name)
    for _ in range(steps):
        for name in models:
            times[name].append(step(name))
    base, full = (statistics.median(times[k]) for k in ("vren_only", "cs_gbsbf"))
    model = models["cs_gbsbf"]
    print(f"\n{backbone} @ {img_size}px, batch {batch}, graphs: {source}, "
          f"{graphs.num_nodes} nodes, {graphs.edge_index.shape[1]} directed edges, backend {backend}")
    print(f"  params: VREN {count(model.vren) / 1e6:.2f}M (baseline head {count(models['vren_only'].head) / 1e3:.1f}k)"
          f" | SREN {count(model.sren) / 1e3:.1f}k | AGM {count(model.agm) / 1e3:.1f}k"
          f" | VRSN {count(model.vrsn) / 1e3:.1f}k | SRSN {count(model.srsn) / 1e3:.1f}k"
          f" | CHN {count(model.chn) / 1e3:.1f}k")
    print(f"  step median over {steps}: vren_only {base * 1e3:.1f} ms | cs_gbsbf {full * 1e3:.1f} ms"
          f" | overhead {100 * (full / base - 1):+.1f}% (target <= +10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="auto", choices=("auto", "dgl", "torch"))
    parser.add_argument("--configs", default="resnet18:48,swin_tiny_patch4_window7_224:48,swin_tiny_patch4_window7_224:224")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    for item in args.configs.split(","):
        backbone, size = item.split(":")
        bench(backbone, int(size), args.steps, args.batch, args.backend)


if __name__ == "__main__":
    main()
