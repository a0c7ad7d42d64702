"""How fast is this laptop? Time full training steps on random tokens, in a few seconds.

The probe builds the step as the trainer does (same model, optimizer, autocast, optionally
compiled), so its tokens per second predict a real run's: `machine` uses it to pick a device,
`calibrate` to pick a size, the training panel to say how many tokens a budget buys.
"""

from __future__ import annotations

import time

import torch

from .device import autocast, resolve_device, resolve_dtype, set_threads
from .models import ModelConfig, build_model
from .optim import make_optimizer
from .schedule import TrainConfig


def training_step(model_cfg: ModelConfig, batch_size: int = 8, device: str = "auto",
                  dtype: str = "auto", compile: bool = False, optimizer: str = "muon"):
    """A full training step (forward, backward, optimizer) on random tokens, built as the trainer
    builds it, warmed up (allocations, compile); returns (step function, model)."""
    model_cfg.validate()
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    model = build_model(model_cfg).to(dev)
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer))
    x = torch.randint(0, model_cfg.vocab_size, (batch_size, model_cfg.context), device=dev)

    def loss_of(tokens):
        with autocast(dev, dt):
            return model(tokens, tokens)  # the trainer's call: the loss inside the model

    fn = torch.compile(loss_of, dynamic=False) if compile else loss_of  # as the trainer does

    def step():
        loss = fn(x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    step()
    return step, model


def time_steps(step, tokens_per_step: int, seconds: float) -> dict:
    """Run `step` for about `seconds` (at least 2 steps); tokens per second and step time."""
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or steps < 2:
        step()
        steps += 1
    return {"tokens_per_s": steps * tokens_per_step / elapsed, "step_seconds": elapsed / steps,
            "steps": steps}


def measure_throughput(model_cfg: ModelConfig, batch_size: int = 8, device: str = "auto",
                       dtype: str = "auto", seconds: float = 2.0, threads: int | None = None,
                       compile: bool = False, optimizer: str = "muon") -> dict:
    """Tokens per second of full training steps (forward, backward, optimizer) for this config.

    Runs eager by default: the first compiled step costs `measured.COMPILE_COLD_S` or more, too
    slow for a slider; the trainer's compiled speed is `measured.COMPILE_SPEEDUP` times higher.
    """
    set_threads(threads)
    step, model = training_step(model_cfg, batch_size, device, dtype, compile, optimizer)
    p = next(model.parameters())
    return {**time_steps(step, batch_size * model_cfg.context, seconds),
            "params": model.num_params(), "device": str(p.device),
            "dtype": str(resolve_dtype(dtype, p.device))}
