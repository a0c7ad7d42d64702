"""Pick the device, number format and CPU threads once, so the trainer never has to guess.

`resolve_device` never measures: "auto" here is CUDA, else the CPU. Apple's GPU is often
slower than the CPU for a model this small (kernel-launch bound), so "auto" takes MPS only when
`machine.py` has measured it faster on this machine.
"""

from __future__ import annotations

import contextlib

import torch

from .hardware import cpu_has_fast_bf16, cuda_has_native_bf16
from .resources import usable_cpus

_TORCH_THREADS = torch.get_num_threads()  # torch's own default (physical cores, OMP_NUM_THREADS)

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16")


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA, else CPU for "auto" (no measuring); a clear error for an unavailable choice."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was asked for but Apple MPS is not available; use --device cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """bf16 autocast where the hardware runs it fast, fp32 elsewhere (MPS stays fp32 on auto)."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if cuda_has_native_bf16(device) else torch.float32
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Autocast context for bf16, a no-op for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def set_threads(threads: int | None) -> int:
    """Use the given number of CPU threads; by default torch's own choice (one per physical
    core), capped by the cores this process may use (affinity, a container's CPU quota)."""
    if threads is None:
        threads = default_threads()
    elif not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def default_threads() -> int:
    """Threads a run uses unless told: on a class server with 30 kernels under a 2-CPU quota
    each, one thread per host core would make them all fight."""
    return max(1, min(_TORCH_THREADS, usable_cpus()))
