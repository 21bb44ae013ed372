"""Training-step time of CS-GBSBF against the VREN-only baseline with the same backbone.

Measures forward + backward + optimiser step, the two models alternating step by step in
one process so both see the same machine load, and prints parameter counts per part. The
overhead is the median of the per-round ratios, with their quartiles: a difference inside
that spread is noise of the host, not a measurement.
Graphs come from build_graph on FER-2013 test faces from ../shared/datasets, or on
synthetic faces where that folder is absent. Wall time is what the target is about;
process CPU time is printed too because it is less disturbed by other processes.

With ``--config`` the step is the trainer's for that experiment config: its model (and the
same model with ``name: vren_only``), loss, optimiser, gradient clipping, ``train.amp``,
``train.channels_last`` and threads, on graphs built with its ``graphs:`` parameters.
Without it, ``--configs`` lists backbone:img_size pairs run with Adam and no autocast.

    HF_HUB_OFFLINE=1 python benchmarks/bench_model_step.py [--steps 10] [--threads 2]
    HF_HUB_OFFLINE=1 python benchmarks/bench_model_step.py --config experiments/configs/fer2013_cpu.yaml --batch 64
    HF_HUB_OFFLINE=1 python benchmarks/bench_model_step.py --config CONFIG --bf16-products torch  # the fallback
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from fer_graph.data.graph_batch import GraphBatch, collate_graphs
from fer_graph.data.readers import load_image
from fer_graph.data.synthetic import CLASS_NAMES, render_face
from fer_graph.granular import NUM_FEATURES, GBRParams, build_graph
from fer_graph.models import CSGBSBFLoss, create_model
from fer_graph.models.devices import autocast
from fer_graph.training.config import load_config
from fer_graph.training.experiment import build_model_and_loss
from fer_graph.training.trainer import build_optimizer

# --bf16-products -> autocast's native_bf16: None asks this CPU
NATIVE_BF16 = {"auto": None, "torch": True, "rounded_fp32": False}
FER2013_TEST = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "fer2013" / "test"


def make_graphs(batch: int, seed: int, params: GBRParams) -> tuple[GraphBatch, str]:
    """Granular-ball graphs of real FER-2013 test faces, or of synthetic faces where those are absent."""
    files = sorted(FER2013_TEST.glob("*/*"))[:: 97][:batch] if FER2013_TEST.is_dir() else []
    if len(files) == batch:
        images, source = [load_image(path) for path in files], "FER-2013 test faces"
    else:
        images = [render_face(seed, "test", k % len(CLASS_NAMES), k) for k in range(batch)]
        source = "synthetic faces"
    graphs = [build_graph(image, params) for image in images]
    return collate_graphs(graphs), f"build_graph (max_nodes {params.max_nodes}) on {source}"


def count(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def alternate(steps_of: dict[str, Callable[[], None]], steps: int) -> dict[str, tuple[list[float], list[float]]]:
    """(wall, process CPU) seconds of each step function per round, run in turn after two warm-up rounds."""
    wall: dict[str, list[float]] = {k: [] for k in steps_of}
    cpu: dict[str, list[float]] = {k: [] for k in steps_of}
    for round_ in range(2 + steps):
        for name, step in steps_of.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            if round_ >= 2:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    return {k: (wall[k], cpu[k]) for k in steps_of}


def overhead(full: list[float], base: list[float]) -> str:
    """The step's cost over the baseline's as the median and quartiles of the per-round ratios:
    the two steps of a round share the machine's load, so the spread shows what drifts between
    rounds (on a shared host several percent) and a difference inside it is not measured."""
    ratios = [100 * (f / b - 1) for f, b in zip(full, base)]
    low, _, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return f"overhead {statistics.median(ratios):+.1f}% (per-round quartiles {low:+.1f}%..{high:+.1f}%)"


def report(models: dict[str, torch.nn.Module], times: dict[str, tuple[list[float], list[float]]], steps: int,
           label: str = "cs_gbsbf") -> None:
    """Parameter counts per part and the full model's step time (printed as ``label``) over VREN-only's."""
    model = models["cs_gbsbf"]
    parts = " | ".join(f"{part.upper()} {count(getattr(model, part)) / 1e3:.1f}k"
                       for part in ("sren", "agm", "vrsn", "srsn", "chn", "gvg", "head") if hasattr(model, part))
    print(f"  params: VREN {count(model.vren) / 1e6:.2f}M (baseline head {count(models['vren_only'].head) / 1e3:.1f}k)"
          f" | {parts}")
    (base, base_cpu), (full, full_cpu) = times["vren_only"], times["cs_gbsbf"]
    median = statistics.median
    print(f"  step median over {steps}: vren_only {median(base) * 1e3:.1f} ms | {label} {median(full) * 1e3:.1f} ms"
          f" | {overhead(full, base)}")
    print(f"  process CPU time median: vren_only {median(base_cpu) * 1e3:.1f} ms | {label} "
          f"{median(full_cpu) * 1e3:.1f} ms | {overhead(full_cpu, base_cpu)}")


def bench(
    backbone: str, img_size: int, steps: int, batch: int, overrides: dict, fused: bool, max_nodes: int
) -> None:
    torch.manual_seed(0)
    graphs, source = make_graphs(batch, seed=0, params=GBRParams(max_nodes=max_nodes))
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

    def step_of(name: str) -> Callable[[], None]:
        def step() -> None:
            total, _ = loss_fn(models[name](images, graphs), targets)
            optims[name].zero_grad(set_to_none=True)
            total.backward()
            optims[name].step()
        return step

    times = alternate({name: step_of(name) for name in models}, steps)
    print(f"\n{backbone} @ {img_size}px, batch {batch}, Adam fused={fused}, graphs: {source}, "
          f"{graphs.num_nodes} nodes, {graphs.edge_index.shape[1]} directed edges, overrides {overrides}")
    report(models, times, steps)


def bench_config(path: str, steps: int, batch: int, overrides: list[str], bf16_products: str = "auto") -> None:
    """The trainer's step (autocast, channels-last, optimiser, clipping) for both models of a config;
    ``bf16_products`` forces torch's own bf16 kernels or ``RoundedProducts`` (``auto``:
    what this CPU gets)."""
    config = load_config(path, overrides)
    train, data = config["train"], config["data"]
    torch.manual_seed(0)
    graphs, source = make_graphs(batch, seed=0, params=GBRParams.from_section(config["graphs"]))
    images = torch.randn(batch, data["in_chans"], data["image_size"], data["image_size"])
    targets = torch.randint(0, config["model"]["num_classes"], (batch,))
    device = torch.device("cpu")
    if train["channels_last"]:
        images = images.contiguous(memory_format=torch.channels_last)
    # the plain backbone: a config's GVG stage would otherwise guide the baseline too
    baseline = {**config, "model": {**config["model"], "name": "vren_only", "graph_guidance_stage": None}}
    models, losses, optims = {}, {}, {}
    for name, cfg in (("vren_only", baseline), ("cs_gbsbf", config)):
        model, losses[name] = build_model_and_loss(cfg)
        models[name] = model.to(memory_format=torch.channels_last) if train["channels_last"] else model
        models[name].train()
        optims[name] = build_optimizer(models[name], train)

    def step_of(name: str) -> Callable[[], None]:
        def step() -> None:
            with autocast(device, train["amp"], native_bf16=NATIVE_BF16[bf16_products]):
                total, _ = losses[name](models[name](images, graphs), targets)
            optims[name].zero_grad(set_to_none=True)
            total.backward()
            if train["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(models[name].parameters(), train["grad_clip"])
            optims[name].step()
        return step

    times = alternate({name: step_of(name) for name in models}, steps)
    print(f"\n{path} {' '.join(overrides)}: batch {batch}, amp {train['amp']} (bf16 products: "
          f"{bf16_products}), channels_last "
          f"{train['channels_last']}, {train['optimizer']}, graphs: {source}, {graphs.num_nodes} nodes, "
          f"{graphs.edge_index.shape[1]} directed edges")
    report(models, times, steps, label=Path(path).stem)


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
    parser.add_argument("--config", default=None, help="an experiment config: time its training step")
    parser.add_argument("--bf16-products", default="auto", choices=tuple(NATIVE_BF16),
                        help="with --config under bf16: torch's own kernels for convolutions and matrix "
                             "products, or fp32 on rounded operands (RoundedProducts; what a CPU without "
                             "native bf16 gets by default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a dotted override of --config (repeatable), e.g. model.graph_backend=torch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    if args.config is not None:
        bench_config(args.config, args.steps, args.batch, args.set, args.bf16_products)
        return
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
