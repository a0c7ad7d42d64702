"""Devices, number formats and CPU threads: what this machine has and runs natively.

What "auto" becomes is decided in `tinylm.core.spec.resolve`, from these facts.
"""

from __future__ import annotations

import contextlib

import torch

from tinylm.machine.memory import usable_cpus

# bf16 runs natively from compute capability 8.0 (Ampere); older GPUs (a Colab T4 is 7.5)
# report bf16 support but emulate it, slowly
CUDA_NATIVE_BF16 = (8, 0)


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has native bf16 matmuls (AVX512-BF16 or AMX): there bf16 is ~2-5x."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, c, lambda: False)() for c in checks)


def cuda_has_native_bf16(device: torch.device) -> bool:
    """bf16 in hardware: compute capability 8.0 or newer, and torch agrees without emulation."""
    return (torch.cuda.get_device_capability(device) >= CUDA_NATIVE_BF16
            and torch.cuda.is_bf16_supported(including_emulation=False))

_TORCH_THREADS = torch.get_num_threads()  # torch's own default (physical cores, OMP_NUM_THREADS)

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16")


def torch_device(name: str) -> torch.device:
    """The torch device for a concrete name (not "auto": `tinylm.core.spec.resolve` decides
    that); a clear error for one this machine does not have."""
    if name not in DEVICES[1:] and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was asked for but Apple MPS is not available; use --device cpu")
    return torch.device(name)


def native_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the hardware runs it fast, fp32 elsewhere (MPS: fp32)."""
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
