"""A checkpoint turned back into what evaluation used: model, class names, graph params, transform.

A checkpoint (``fer_graph.models.checkpoint``) holds ``state_dict`` and the resolved experiment
``config``; nothing else is needed to rebuild the network, the eval transform of ``data:`` and
the ``GBRParams`` of ``graphs:``. Graphs are built from the decoded image by the same
``build_graph`` call as the graph store builder and rounded the way the store keeps them;
images go through the evaluation loader's resize and eval transform. So inference sees the
numbers evaluation saw.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_graph.data.dataset import preload_images
from fer_graph.data.graph_codec import STATS, cast_features
from fer_graph.data.transforms import PairTransform, build_transforms
from fer_graph.granular.build import build_graph
from fer_graph.granular.graph import BallGraph, GBRParams
from fer_graph.models.checkpoint import CheckpointError, load_checkpoint
from fer_graph.models.devices import autocast, resolve_device
from fer_graph.models.factory import uses_graphs

# The graph store keeps node statistics as float16 unless built with --float32, and
# experiments build their stores with that default.
STORE_FEATURE_DTYPE = "float16"


@dataclass
class LoadedModel:
    """Everything needed to predict as evaluation did.

    Attributes:
        model: the network in eval mode, on ``device``.
        config: the resolved experiment config stored in the checkpoint.
        class_names: label i is ``class_names[i]``.
        transform: the eval transform of the config's ``data:`` section.
        graph_params: GBR parameters of ``graphs:``, or None for image-only models.
        device: where the model runs.
        amp: the autocast setting evaluation used (``train.amp``), or False.
        metrics: the metrics stored with the checkpoint.
        graph_dtype: the dtype the graph store kept node statistics in.
        channels_last: images and weights in channels-last memory (``train.channels_last``).
    """

    model: nn.Module
    config: dict
    class_names: list[str]
    transform: PairTransform
    graph_params: GBRParams | None
    device: torch.device
    amp: bool | str = False
    metrics: dict = field(default_factory=dict)
    graph_dtype: str = STORE_FEATURE_DTYPE
    channels_last: bool = False

    @property
    def uses_graphs(self) -> bool:
        return self.graph_params is not None

    def graph_for(self, image: np.ndarray) -> BallGraph | None:
        """The graph evaluation would have read from the store for this image (None if unused)."""
        if self.graph_params is None:
            return None
        return as_stored(build_graph(image, self.graph_params), self.graph_dtype)

    def tensor_for(self, image: np.ndarray) -> torch.Tensor:
        """The normalised image tensor evaluation would have built for this image.

        Evaluation loaders first resize every decoded image to ``data.image_size`` with
        ``preload_images`` and then apply the eval transform; this runs the same two steps.
        """
        resized = preload_images({"image": image}, ["image"], self.config["data"]["image_size"]).array[0]
        return self.transform(resized)[0]

    def autocast(self) -> contextlib.AbstractContextManager:
        """The same autocast as evaluation (``train.amp``), or a no-op."""
        return autocast(self.device, self.amp)


def as_stored(graph: BallGraph, dtype: str = STORE_FEATURE_DTYPE) -> BallGraph:
    """The graph with node statistics rounded as the HDF5 graph store keeps them.

    The store recomputes geometry exactly and keeps extrema as integers, so the statistics
    are the only columns that change.
    """
    features = graph.features.copy()
    features[:, STATS] = cast_features(features[:, STATS], dtype).astype(np.float32)
    return BallGraph(boxes=graph.boxes, features=features, edges=graph.edges,
                     image_shape=graph.image_shape)


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu",
               use_amp: bool = True) -> LoadedModel:
    """Rebuild the model of a checkpoint and everything evaluation used with it.

    Args:
        checkpoint: a ``.pt`` file written by ``fer_graph.models.checkpoint.save_checkpoint``.
        device: ``auto``, ``cpu``, ``cuda`` or a torch device.
        use_amp: apply the config's ``train.amp`` autocast (as evaluation did).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a fer_graph checkpoint (or one holding pickled objects), or its
            weights do not fit its config.
        ConfigError: ``device`` is unknown or asks for CUDA where there is none.
    """
    from fer_graph.models import create_model

    path = Path(checkpoint)
    state = load_checkpoint(path)
    if not isinstance(state, dict) or "state_dict" not in state or "config" not in state:
        raise CheckpointError(f"{path}: expected a dict with state_dict and config")
    config = state["config"]
    device = resolve_device(device, key="device")
    model_cfg = dict(config["model"])
    # Weights come from the state_dict; never fetch or read backbone weights again.
    model_cfg.update(pretrained=False, checkpoint_path=None)
    model = create_model(model_cfg)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match its model config ({err})") from err
    sren = getattr(model, "sren", None)
    if sren is not None and device.type != "cpu":
        sren.backend = "torch"  # DGL runs on the CPU only; both backends compute the same GCN
    model.to(device).eval()
    num_classes = int(model_cfg.get("num_classes", 7))
    class_names = [str(c) for c in state.get("class_names") or [f"class_{i}" for i in range(num_classes)]]
    _, eval_transform = build_transforms(config["data"])
    params = None
    if uses_graphs(config["model"]):
        params = GBRParams.from_section(config["graphs"])
    train = config.get("train", {})
    channels_last = bool(train.get("channels_last", False))
    if channels_last:
        model.to(memory_format=torch.channels_last)  # as the trainer runs it
    return LoadedModel(model=model, config=config, class_names=class_names, transform=eval_transform,
                       graph_params=params, device=device, amp=train.get("amp", False) if use_amp else False,
                       metrics=dict(state.get("metrics") or {}), channels_last=channels_last)
