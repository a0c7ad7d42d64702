"""Which number formats the hardware runs natively: a leaf module, so the model config (which
picks a head by it) and `device.py` (which picks the training dtype by it) read one answer."""

from __future__ import annotations

import torch

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
