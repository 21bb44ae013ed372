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


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); None where unknown.

    Without those units bf16 autocast on the CPU is emulated: measured on an AVX2-only EPYC,
    a fervgg_base training step ran about 15x slower in bf16 than in fp32.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as fh:
                cpuinfo = fh.read()
        except OSError:
            return None
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return any(flag in flags for flag in BF16_CPU_FLAGS) if flags else None
