"""Pick the device, number format and CPU threads once, so the trainer never has to guess."""

from __future__ import annotations

import contextlib

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16")


def resolve_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU for "auto"; a clear error for an unavailable choice."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was asked for but Apple MPS is not available; use --device cpu")
    return torch.device(name)


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has native bf16 matmuls (AVX512-BF16 or AMX): there bf16 is ~2-5x."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, c, lambda: False)() for c in checks)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """bf16 autocast where the hardware runs it fast, fp32 elsewhere (MPS stays fp32 on auto)."""
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}: use one of {', '.join(DTYPES)}")
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Autocast context for bf16, a no-op for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def set_threads(threads: int | None) -> int:
    """Use the given number of CPU threads (default: torch's own choice, one per core)."""
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()
