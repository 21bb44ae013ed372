"""Where a model runs and in which precision: shared by training and inference."""

from __future__ import annotations

import contextlib

import torch

from fer_graph.errors import ConfigError


def resolve_device(name: str | torch.device = "auto", key: str = "train.device") -> torch.device:
    """The torch device for a configured name.

    Args:
        name: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:1``, ... or a device.
        key: the config key or option the name came from, for the error message.

    Raises:
        ConfigError: a CUDA device is asked for but none is available, or the name is no device.
    """
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError as err:
            raise ConfigError(f"{key}: {name!r} is not a device (auto, cpu, cuda, cuda:N)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}: {name} requested but no CUDA device is available")
    return device


def autocast(device: torch.device, amp: bool | str) -> contextlib.AbstractContextManager:
    """bf16 (``amp: bf16``) or fp16 (any other true value) autocast on ``device``, or a no-op."""
    if not amp:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
