"""How fast is this laptop? Measure training throughput on random tokens in a few seconds."""

from __future__ import annotations

import time

import torch

from .device import autocast, resolve_device, resolve_dtype, set_threads
from .model import GPT, ModelConfig, lm_loss
from .optim import make_optimizer


def measure_throughput(model_cfg: ModelConfig, batch_size: int = 8, device: str = "auto",
                       dtype: str = "auto", seconds: float = 2.0, threads: int | None = None,
                       compile: bool = False) -> dict:
    """Tokens per second of full training steps (forward, backward, AdamW) for this config.

    Runs eager by default: the first compiled step costs ~20 s, too slow for a slider. The
    trainer's compiled speed is higher (see benchmarks/).
    """
    from .train import TrainConfig

    model_cfg.validate()
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    set_threads(threads)
    model = GPT(model_cfg).to(dev)
    opt = make_optimizer(model, TrainConfig())
    fn = torch.compile(model, dynamic=False) if compile else model
    x = torch.randint(0, model_cfg.vocab_size, (batch_size, model_cfg.context), device=dev)

    def step():
        with autocast(dev, dt):
            loss = lm_loss(fn(x), x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    step()  # warm-up (allocations, compile)
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or steps < 2:
        step()
        steps += 1
    tps = steps * batch_size * model_cfg.context / elapsed
    return {"tokens_per_s": tps, "step_seconds": elapsed / steps, "steps": steps,
            "params": model.num_params(), "device": str(dev), "dtype": str(dt)}
