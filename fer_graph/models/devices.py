"""Where a model runs and in which precision: shared by training and inference."""

from __future__ import annotations

import contextlib
import platform

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
    flags = set(_cpu_field("flags", cpuinfo).split())
    return any(flag in flags for flag in BF16_CPU_FLAGS) if flags else None


def machine_record(device: torch.device, cpuinfo: str | None = None) -> dict:
    """What a run's bits and minutes depend on besides its config and code: CPU model, the
    instruction set torch dispatches to, native bf16, threads, torch version and the device.

    Recorded runs reproduce bit for bit on the CPU kind that made them, not across kinds
    (``docs/results/reproductions.md``), and minutes vary several-fold between kinds.
    """
    cpuinfo = _read_cpuinfo() if cpuinfo is None else cpuinfo
    record = {
        "cpu": _cpu_field("model name", cpuinfo) or platform.processor() or "unknown",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": cpu_has_bf16(cpuinfo),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        record["device"] = f"{device} ({torch.cuda.get_device_name(device)})"
    return record


def describe_machine(machine: dict) -> str:
    """One line for a ``machine_record``: CPU model, then instruction set, device, threads, torch."""
    return (f"{machine['cpu']} ({machine['cpu_capability']}, {machine['device']}, {machine['threads']} threads, "
            f"torch {machine['torch']})")


def _read_cpuinfo() -> str:
    """/proc/cpuinfo, '' where there is none."""
    try:
        with open("/proc/cpuinfo") as fh:
            return fh.read()
    except OSError:
        return ""


def _cpu_field(name: str, cpuinfo: str | None = None) -> str:
    """The first value of ``name`` in /proc/cpuinfo (or the text given), '' where absent."""
    for line in (_read_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""
