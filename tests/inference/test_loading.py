"""load_model refuses checkpoints it must not or cannot use, with one line naming the cause."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fer_graph.errors import ConfigError
from fer_graph.inference.loading import CheckpointError, load_model
from fer_graph.models.checkpoint import load_checkpoint, save_checkpoint


class Hook:
    """Stands for any pickled object a foreign checkpoint may carry; never to be built."""

    built = 0

    def __setstate__(self, state) -> None:
        Hook.built += 1


def test_checkpoint_carrying_a_pickled_object_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    state = load_checkpoint(tiny_checkpoint)
    bad = save_checkpoint({**state, "hook": Hook()}, tmp_path / "hooked.pt")
    with pytest.raises(CheckpointError, match=r"hooked\.pt: holds a pickled \S*Hook object"):
        load_model(bad)
    assert Hook.built == 0
    # the same checkpoint without the object loads
    assert load_model(save_checkpoint(state, tmp_path / "plain.pt")).class_names == state["class_names"]


def test_checkpoint_without_a_model_or_with_other_weights(tiny_checkpoint: Path, tmp_path: Path) -> None:
    state = load_checkpoint(tiny_checkpoint)
    with pytest.raises(CheckpointError, match="expected a dict with state_dict and config"):
        load_model(save_checkpoint({"state_dict": state["state_dict"]}, tmp_path / "bare.pt"))
    weights = dict(state["state_dict"])
    weights.pop(next(iter(weights)))
    with pytest.raises(CheckpointError, match="weights do not match its model config"):
        load_model(save_checkpoint({**state, "state_dict": weights}, tmp_path / "short.pt"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_is_a_device_error(tiny_checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match=r"^device: cuda requested but no CUDA device"):
        load_model(tiny_checkpoint, device="cuda")
