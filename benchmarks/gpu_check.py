"""The paper configuration on a GPU: training steps in bf16 and fp16 with the torch graph backend.

Builds the model of a paper config (default `experiments/configs/fer2013.yaml`: Swin-B at
224 px, D_e 1024, K 9, random weights) with `graph_backend: torch`, and trains it with Adam on
random images and granular-ball graphs (built by `fer_graph.granular` from smooth random
48 px images) for `--steps` steps per precision: fp16 with a gradient scaler, bf16 without.
Prints images/s (after `--warmup` untimed steps), peak GPU memory, steps the scaler skipped
and the last loss. Needs torch, timm, numpy, numba and pyyaml; never DGL or Ray.

    python benchmarks/gpu_check.py                         # CUDA, 300 steps each of bf16, fp16
    python benchmarks/gpu_check.py --device cpu --steps 2 --warmup 0 --batch-size 2   # CPU smoke check
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from fer_graph.data.graph_batch import GraphBatch, collate_graphs
from fer_graph.granular import GBRParams, build_graph
from fer_graph.models import CSGBSBFLoss, create_model
from fer_graph.models.devices import autocast

REPO = Path(__file__).resolve().parents[1]
LOSS_KEYS = ("lambda_ba", "bootstrap_alignment", "label_smoothing", "ba_form")


def read_sections(path: Path) -> dict:
    """The YAML file merged over its `base:` chain (mappings key by key)."""
    data = yaml.safe_load(path.read_text()) or {}
    base = data.pop("base", None)
    if base is None:
        return data
    merged = read_sections(path.parent / base)
    for section, values in data.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    return merged


def random_graphs(count: int, seed: int, params: GBRParams) -> list:
    """Graphs of smooth random images: blocks of random grey, upsampled and noised, like faces' flat areas."""
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(count):
        coarse = rng.uniform(0, 255, (6, 6))
        image = np.kron(coarse, np.ones((8, 8))) + rng.normal(0, 6, (48, 48))
        graphs.append(build_graph(np.clip(image, 0, 255).astype(np.uint8), params))
    return graphs


def run(model_cfg: dict, loss_cfg: dict, lr: float, weight_decay: float, amp: str, device: torch.device,
        batch: list[GraphBatch], steps: int, warmup: int, batch_size: int) -> dict:
    """Train a fresh model `warmup + steps` steps in one precision; returns the figures."""
    torch.manual_seed(0)
    model = create_model(model_cfg).to(device).train()
    loss_fn = CSGBSBFLoss(**loss_cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    size = model_cfg["img_size"]
    images = torch.randn(batch_size, model_cfg["in_chans"], size, size, device=device)
    labels = torch.randint(0, model_cfg["num_classes"], (batch_size,), device=device)
    graphs = [g.to(device) for g in batch]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    skipped, loss_value, started = 0, math.nan, time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
        with autocast(device, amp):
            output = model(images, graphs[step % len(graphs)])
            loss, _ = loss_fn(output, labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scale = scaler.get_scale() if scaler.is_enabled() else None
        scaler.step(optimizer)
        scaler.update()
        skipped += int(scale is not None and scaler.get_scale() < scale)
        loss_value = float(loss.detach())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {
        "images_per_s": steps * batch_size / seconds if steps else math.nan,
        "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else math.nan,
        "skipped": skipped,
        "loss": loss_value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "experiments" / "configs" / "fer2013.yaml")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's train.batch_size")
    parser.add_argument("--amp", nargs="+", default=["bf16", "fp16"], choices=["bf16", "fp16"])
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here (use --device cpu for a smoke check)")
    sections = read_sections(args.config)
    train = sections.get("train", {})
    batch_size = args.batch_size or train.get("batch_size", 16)
    model_cfg = {**sections["model"], "pretrained": False, "checkpoint_path": None, "graph_backend": "torch"}
    model_cfg.setdefault("img_size", 224)
    model_cfg.setdefault("in_chans", 3)
    model_cfg.setdefault("num_classes", 7)
    loss_cfg = {k: v for k, v in sections.get("loss", {}).items() if k in LOSS_KEYS}
    graph_params = GBRParams(max_nodes=sections.get("graphs", {}).get("max_nodes", 2048))
    pool = random_graphs(4 * batch_size, 0, graph_params)
    batches = [collate_graphs(pool[i:i + batch_size]) for i in range(0, len(pool), batch_size)]
    nodes = np.mean([g.num_nodes / g.num_graphs for g in batches])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{args.config.name}: {model_cfg['backbone']} at {model_cfg['img_size']} px, D_e {model_cfg['embed_dim']}, "
          f"K {model_cfg['num_components']}, SREN {model_cfg.get('sren_layers')}x{model_cfg.get('sren_hidden')}, "
          f"batch {batch_size}, {nodes:.0f} nodes per graph, torch graph backend, {name}, torch {torch.__version__}")
    for amp in args.amp:
        figures = run(model_cfg, loss_cfg, train.get("lr", 1e-4), train.get("weight_decay", 0.01), amp, device,
                      batches, args.steps, args.warmup, batch_size)
        print(f"{amp}: {args.steps} steps  {figures['images_per_s']:.1f} images/s  peak {figures['peak_gib']:.2f} GiB  "
              f"skipped {figures['skipped']}  last loss {figures['loss']:.4f}")


if __name__ == "__main__":
    main()
