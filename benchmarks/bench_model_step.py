"""Training-step time of CS-GBSBF against the VREN-only baseline with the same backbone.

Measures forward + backward + Adam step at batch 16, the two models alternating step by
step in one process so both see the same machine load, and prints parameter counts per
part. Graphs come from build_graph on 16 FER-2013 test faces from ../shared/datasets, or
on 16 synthetic faces where that folder is absent. Wall time is what the target is
about; process CPU time is printed too because it is less disturbed by other processes.

    HF_HUB_OFFLINE=1 python benchmarks/bench_model_step.py [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from fer_graph.data.graph_batch import GraphBatch, collate_graphs
from fer_graph.data.readers import load_image
from fer_graph.data.synthetic import CLASS_NAMES, render_face
from fer_graph.granular import NUM_FEATURES, GBRParams, build_graph
from fer_graph.models import CSGBSBFLoss, create_model

FER2013_TEST = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "fer2013" / "test"


def make_graphs(batch: int, seed: int, max_nodes: int) -> tuple[GraphBatch, str]:
    """Granular-ball graphs of real FER-2013 test faces, or of synthetic faces where those are absent."""
    params = GBRParams(max_nodes=max_nodes)
    files = sorted(FER2013_TEST.glob("*/*"))[:: 97][:batch] if FER2013_TEST.is_dir() else []
    if len(files) == batch:
        images, source = [load_image(path) for path in files], "FER-2013 test faces"
    else:
        images = [render_face(seed, "test", k % len(CLASS_NAMES), k) for k in range(batch)]
        source = "synthetic faces"
    graphs = [build_graph(image, params) for image in images]
    return collate_graphs(graphs), f"build_graph (max_nodes {max_nodes}) on {source}"


def count(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def bench(
    backbone: str, img_size: int, steps: int, batch: int, overrides: dict, fused: bool, max_nodes: int
) -> None:
    torch.manual_seed(0)
    graphs, source = make_graphs(batch, seed=0, max_nodes=max_nodes)
    assert graphs.x.shape[1] == NUM_FEATURES
    images = torch.randn(batch, 3, img_size, img_size)
    targets = torch.randint(0, 7, (batch,))
    common = {"backbone": backbone, "img_size": img_size}
    models = {
        "vren_only": create_model({**common, "name": "vren_only"}),
        "cs_gbsbf": create_model({**common, **overrides}),
    }
    loss_fn = CSGBSBFLoss()
    # the paper's optimiser; the trainer's default is the per-parameter loop (fused=False)
    optims = {
        k: torch.optim.Adam(m.parameters(), lr=1e-4, weight_decay=0.01, fused=fused)
        for k, m in models.items()
    }
    wall: dict[str, list[float]] = {k: [] for k in models}
    cpu: dict[str, list[float]] = {k: [] for k in models}

    def step(name: str) -> None:
        start, start_cpu = time.perf_counter(), time.process_time()
        out = models[name](images, graphs)
        total, _ = loss_fn(out, targets)
        optims[name].zero_grad(set_to_none=True)
        total.backward()
        optims[name].step()
        wall[name].append(time.perf_counter() - start)
        cpu[name].append(time.process_time() - start_cpu)

    for _ in range(2):
        for name in models:
            step(name)
    for times in (wall, cpu):
        for name in models:
            times[name].clear()
    for _ in range(steps):
        for name in models:
            step(name)
    base, full = (statistics.median(wall[k]) for k in ("vren_only", "cs_gbsbf"))
    base_cpu, full_cpu = (statistics.median(cpu[k]) for k in ("vren_only", "cs_gbsbf"))
    model = models["cs_gbsbf"]
    print(f"\n{backbone} @ {img_size}px, batch {batch}, Adam fused={fused}, graphs: {source}, "
          f"{graphs.num_nodes} nodes, {graphs.edge_index.shape[1]} directed edges, overrides {overrides}")
    print(f"  params: VREN {count(model.vren) / 1e6:.2f}M (baseline head {count(models['vren_only'].head) / 1e3:.1f}k)"
          f" | SREN {count(model.sren) / 1e3:.1f}k | AGM {count(model.agm) / 1e3:.1f}k"
          f" | VRSN {count(model.vrsn) / 1e3:.1f}k | SRSN {count(model.srsn) / 1e3:.1f}k"
          f" | CHN {count(model.chn) / 1e3:.1f}k")
    print(f"  step median over {steps}: vren_only {base * 1e3:.1f} ms | cs_gbsbf {full * 1e3:.1f} ms"
          f" | overhead {100 * (full / base - 1):+.1f}% (target <= +10%)")
    print(f"  process CPU time median: vren_only {base_cpu * 1e3:.1f} ms | cs_gbsbf {full_cpu * 1e3:.1f} ms"
          f" | overhead {100 * (full_cpu / base_cpu - 1):+.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="auto", choices=("auto", "dgl", "torch"))
    parser.add_argument("--fused", action="store_true", help="fused Adam (much faster on CPU)")
    parser.add_argument("--sren-hidden", type=int, default=None)
    parser.add_argument("--sren-layers", type=int, default=None)
    parser.add_argument("--embed-dim", type=int, default=None, help="D_e (paper: 1024)")
    parser.add_argument("--max-nodes", type=int, default=2048, help="GDS node cap of the graphs")
    parser.add_argument("--agm-mode", default=None, choices=("global", "spatial"))
    parser.add_argument(
        "--configs",
        default="resnet18:48,swin_tiny_patch4_window7_224:48,swin_tiny_patch4_window7_224:224",
        help="comma-separated backbone:img_size pairs",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    overrides = {"graph_backend": args.backend}
    if args.sren_hidden is not None:
        overrides["sren_hidden"] = args.sren_hidden
    if args.sren_layers is not None:
        overrides["sren_layers"] = args.sren_layers
    if args.embed_dim is not None:
        overrides["embed_dim"] = args.embed_dim
    if args.agm_mode is not None:
        overrides["agm"] = {"mode": args.agm_mode}
    for item in args.configs.split(","):
        backbone, size = item.split(":")
        bench(backbone, int(size), args.steps, args.batch, overrides, args.fused, args.max_nodes)


if __name__ == "__main__":
    main()
