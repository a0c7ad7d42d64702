"""Will a run fit in this machine's memory? Estimated before allocating, refused early with the
numbers, rather than an out-of-memory error minutes in."""

from __future__ import annotations

import torch

from tinylm.core.models import ModelConfig, param_count
from tinylm.machine.memory import available_bytes

BYTES_FP32 = 4


def estimate_bytes(cfg: ModelConfig, batch_size: int) -> dict:
    """Rough peak memory of a training step: weights, gradients, Adam state, activations."""
    d, v, t, layers = cfg.width, cfg.vocab_size, cfg.context, cfg.layers
    hidden = int(cfg.mlp_ratio * d)
    params = param_count(cfg)
    weights = params * BYTES_FP32
    optimizer = 2 * weights
    tokens = batch_size * t
    # saved activations per layer (~16 d-wide tensors + attention scores), logits in fp32 x3
    activations = tokens * layers * (16 * d + 2 * hidden) * BYTES_FP32
    activations += batch_size * cfg.heads * t * t * BYTES_FP32 * layers
    activations += 3 * tokens * v * BYTES_FP32
    total = weights * 2 + optimizer + activations
    return {"params": params, "weights": weights, "optimizer": optimizer,
            "activations": activations, "total": total}


def check_fits(cfg: ModelConfig, batch_size: int, device: torch.device,
               headroom: float = 0.8) -> dict:
    """Raise ValueError with the estimate and the limit if training would not fit."""
    need = estimate_bytes(cfg, batch_size)
    have = available_bytes(device)
    if have is not None and need["total"] > headroom * have:
        raise ValueError(f"this configuration needs about {need['total'] / 2**30:.1f} GiB "
                         f"(weights, optimizer state, activations) but only "
                         f"{have / 2**30:.1f} GiB is available on {device}; lower width, "
                         f"layers, context or batch size")
    return need
