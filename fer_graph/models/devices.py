"""Where a model runs and in which precision: shared by training and inference."""

from __future__ import annotations

import contextlib
import functools
import platform

import torch
from torch.overrides import TorchFunctionMode

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


def autocast(device: torch.device, amp: bool | str, native_bf16: bool | None = None
             ) -> contextlib.AbstractContextManager:
    """bf16 (``amp: bf16``) or fp16 (any other true value) autocast on ``device``, or a no-op.

    bf16 on a CPU without native bf16 (``native_bf16``, by default ``native_bf16_here()``, False)
    also computes convolutions and matrix products as ``RoundedProducts`` does.
    """
    if not amp:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    cast = torch.autocast(device_type=device.type, dtype=dtype)
    native = native_bf16_here() if native_bf16 is None else native_bf16
    if dtype is not torch.bfloat16 or device.type != "cpu" or native is not False:
        return cast
    stack = contextlib.ExitStack()
    stack.enter_context(cast)
    stack.enter_context(RoundedProducts())
    return stack


class RoundedProducts(TorchFunctionMode):
    """Under CPU bf16 autocast, each convolution and matrix product runs in fp32 on its
    operands rounded to bf16, and its result is rounded to bf16.

    That is what a native bf16 kernel computes (bf16 operands, fp32 sums, a bf16 result), up
    to the order of the sums, and the gradients are rounded at the same places (the casts'
    backward). Without AVX512-BF16 or AMX, torch runs these in bf16 on slow fallbacks: on an
    AVX2-only EPYC a fervgg_base step (batch 64) took 17.4 s in bf16 against 1.0 s in fp32,
    99.6% of it in the convolution fallback, and the full model's matrix products 132 ms
    against 6 ms.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in _PRODUCTS or "out" in kwargs or not _bf16_autocast_on():
            return func(*args, **kwargs)
        operands = [t for v in (*args, *kwargs.values()) for t in _tensors(v)]
        if any(t.dtype not in (torch.float32, torch.bfloat16) for t in operands):
            return func(*args, **kwargs)
        with torch.autocast("cpu", enabled=False):
            out = func(*map(_rounded, args), **{k: _rounded(v) for k, v in kwargs.items()})
        return out.to(torch.bfloat16)


# what CPU autocast runs in bf16 and the models call: convolutions, linear layers, matrix
# products, and einsum (whose inner bmm autocast lowers)
_PRODUCTS = frozenset((
    torch.conv1d, torch.conv2d, torch.conv3d, torch.nn.functional.linear, torch.einsum,
    torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.baddbmm, torch.addbmm,
    torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.mm, torch.Tensor.bmm,
    torch.Tensor.addmm, torch.Tensor.baddbmm,
))


def _bf16_autocast_on() -> bool:
    return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    return [v for v in value if isinstance(v, torch.Tensor)] if isinstance(value, (list, tuple)) else []


def _rounded(value):
    """A tensor (or the tensors of a list, as einsum takes them) rounded to bf16 and held in fp32."""
    if isinstance(value, torch.Tensor):
        return value.to(torch.bfloat16).float()
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_rounded(v) for v in value)
    return value


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); None where unknown.

    Without those units, ``autocast`` computes bf16 products in fp32 (``RoundedProducts``).
    """
    flags = set(_cpu_field("flags", cpuinfo).split())
    return any(flag in flags for flag in BF16_CPU_FLAGS) if flags else None


@functools.cache
def native_bf16_here() -> bool | None:
    """``cpu_has_bf16()`` of this machine, read once (autocast is entered every step)."""
    return cpu_has_bf16()


def machine_record(device: torch.device, cpuinfo: str | None = None) -> dict:
    """What a run's bits and minutes depend on besides its config and code: CPU model, the
    instruction set torch dispatches to, native bf16, threads, torch version and the device.

    Recorded runs reproduce bit for bit on the CPU kind that made them, not across kinds
    (``docs/results/reproductions.md``), and minutes vary several-fold between kinds.
    """
    cpuinfo = _read_cpuinfo() if cpuinfo is None else cpuinfo
    native_bf16 = cpu_has_bf16(cpuinfo)
    record = {
        "cpu": _cpu_field("model name", cpuinfo) or platform.processor() or "unknown",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": native_bf16,
        # how `autocast` runs bf16 convolutions and matrix products here: RoundedProducts, or torch's kernels
        "cpu_bf16_products": "rounded_fp32" if native_bf16 is False else "torch",
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),  # plain str: checkpoints hold no pickled objects
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
