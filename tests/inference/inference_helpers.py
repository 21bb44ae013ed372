"""Helpers for the inference tests: tiny checkpoints and generated face-like images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fer_graph.data.readers import FER2013_CLASSES
from fer_graph.models import create_model
from fer_graph.models.checkpoint import save_checkpoint
from fer_graph.training.config import resolve_experiment_config

TINY_MODEL = {
    "backbone": "fervgg_small", "img_size": 48, "in_chans": 3, "embed_dim": 64,
    "component_dim": 16, "num_components": 4, "sren_layers": 2, "sren_hidden": 16,
}


def make_checkpoint(out_dir: Path, model: dict, seed: int = 0, name: str = "tiny.pt",
                    gain: float = 5.0) -> Path:
    """A resolved config + random weights written with save_checkpoint, as the trainer does."""
    config = resolve_experiment_config({
        "experiment": {"name": "tiny", "output_dir": str(out_dir)},
        "data": {"dataset": "synthetic", "image_size": model["img_size"], "in_chans": model["in_chans"]},
        "model": model,
        "train": {"batch_size": 4},
    })
    torch.manual_seed(seed)
    net = create_model(config["model"])
    # Non-trivial BatchNorm statistics, so evaluation-mode normalisation matters in comparisons.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    # A random head gives near-uniform class probabilities; a larger one spreads them.
    with torch.no_grad():
        head = net.chn.fc if hasattr(net, "chn") else net.head.fc
        head.weight.mul_(gain)
    payload = {"state_dict": net.state_dict(), "config": config, "metrics": {"val_accuracy": 0.0},
               "epoch": 1, "class_names": list(FER2013_CLASSES)}
    return save_checkpoint(payload, out_dir / name)


def face_like(size: tuple[int, int], seed: int, colour: bool = False) -> np.ndarray:
    """A smooth random image with dark 'eyes' and 'mouth' blobs (uint8), deterministic in seed."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size[0], 0:size[1]] / np.array(size).reshape(2, 1, 1)
    image = 150 + 60 * np.sin(rows * rng.uniform(2, 6)) * np.cos(cols * rng.uniform(2, 6))
    for r, c in ((0.35, 0.3), (0.35, 0.7), (0.72, 0.5)):
        image -= 90 * np.exp(-(((rows - r) / 0.06) ** 2 + ((cols - c) / 0.1) ** 2))
    image = np.clip(image + rng.normal(0, 6, size), 0, 255).astype(np.uint8)
    if colour:
        image = np.stack([image, np.roll(image, 3, axis=1), 255 - image // 2], axis=2)
    return image


def save_image(array: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path
