"""Prediction throughput from image files, graph building included, on the CPU.

Runs ``Predictor.predict_paths`` (decode -> granular-ball graph -> eval transform -> batched
forward) over the first N FER-2013 test images (sorted) with the model of an experiment config
(random weights unless --checkpoint is given: throughput does not depend on them), and prints
images/s and the share of time per stage. One batch is predicted twice first, untimed, so
numba compilation and the first call's kernel set-up are not counted. Process CPU time is
printed too, since other processes on the machine slow the wall clock.

    HF_HUB_OFFLINE=1 python benchmarks/bench_predict.py [--images 1000] [--config experiments/configs/fer2013_cpu.yaml]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FER2013_TEST = ROOT / ".." / "shared" / "datasets" / "fer2013" / "test"


def _random_checkpoint(config_path: Path, out_dir: Path) -> Path:
    """The config's model with random weights, saved as a training checkpoint."""
    from fer_graph.models import create_model
    from fer_graph.models.checkpoint import save_checkpoint
    from fer_graph.training.config import load_config

    config = load_config(config_path)
    torch.manual_seed(0)
    model = create_model(config["model"])
    return save_checkpoint({"state_dict": model.state_dict(), "config": config, "metrics": {}},
                           out_dir / "random.pt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--config", default=str(ROOT / "experiments" / "configs" / "fer2013_cpu.yaml"))
    parser.add_argument("--checkpoint", help="a trained checkpoint instead of random weights")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-amp", action="store_true", help="float32 even if the config uses bf16")
    args = parser.parse_args(argv)
    folder = FER2013_TEST.resolve()
    if not folder.is_dir():
        print(f"skipped: {folder} is absent (FER-2013 test images are read from ../shared/datasets)")
        return 0
    torch.set_num_threads(args.threads)
    from fer_graph.inference.loading import load_model
    from fer_graph.inference.predict import Predictor

    paths = sorted(folder.rglob("*.jpg"))[: args.images]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or _random_checkpoint(Path(args.config), Path(tmp))
        loaded = load_model(checkpoint, device="cpu", use_amp=not args.no_amp)
    warm = Predictor(loaded)
    for _ in range(2):  # untimed: numba compilation, oneDNN kernel set-up for this batch shape
        warm.predict_paths(paths[: args.batch_size], batch_size=args.batch_size)
    predictor = Predictor(loaded)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = predictor.predict_paths(paths, batch_size=args.batch_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    t = predictor.timings
    model_cfg = loaded.config["model"]
    print(f"model: {model_cfg['name']} {model_cfg['backbone']} {model_cfg['img_size']} px, "
          f"K={model_cfg['num_components']}, amp={loaded.amp or 'off'}, "
          f"{'checkpoint ' + str(args.checkpoint) if args.checkpoint else 'random weights'}")
    print(f"graphs: {loaded.graph_params}")
    print(f"images: {len(paths)} from {folder} (sorted), batch {args.batch_size}, "
          f"{torch.get_num_threads()} torch threads, {sum(r.error is None for r in rows)} predicted")
    print(f"throughput: {len(paths) / wall:.1f} images/s wall ({wall:.2f} s), "
          f"process CPU {cpu:.2f} s ({cpu / wall:.2f} CPU-s per wall-s)")
    for stage in ("read", "graphs", "transform", "model"):
        seconds = getattr(t, stage)
        print(f"  {stage:<9} {seconds:7.2f} s  {100 * seconds / t.total:5.1f} %  "
              f"{1000 * seconds / len(paths):6.2f} ms/image")
    print(f"graph building share of time: {100 * t.graphs / t.total:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
