"""How fast is this laptop? Time full training steps on random tokens, in a few seconds.

The probe builds the step as the trainer does (same model, optimizer, autocast, optionally
compiled), so its tokens per second predict a real run's: `machine` uses it to pick a device,
`calibrate` to pick a size, the training panel to say how many tokens a budget buys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from tinylm.core.models import ModelConfig, build_model
from tinylm.core.optim import make_optimizer
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import UNTIMED_BUDGET_S, RunSpec, resolve
from tinylm.machine.allocator import keep_freed_memory
from tinylm.machine.device import autocast, set_threads


@dataclass
class StepParts:
    """What a training step is made of, built as the trainer builds it: `loss_fn(*batch)` is
    the (possibly compiled) forward and loss; backward and `optimizer.step()` complete it."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Callable
    batch: tuple[torch.Tensor, torch.Tensor]  # (inputs, targets) [batch, context], random
    dtype: torch.dtype


def step_parts(model_cfg: ModelConfig, batch_size: int = 8, device: str = "auto",
               dtype: str = "auto", compile: bool = False, optimizer: str = "muon") -> StepParts:
    """The model, optimizer, loss function and a random batch of the trainer's step."""
    keep_freed_memory()  # as the trainer does
    run = resolve(RunSpec(model=model_cfg, train=TrainConfig(
        budget_s=UNTIMED_BUDGET_S, device=device, dtype=dtype, compile="off", threads=1)))
    dev, dt = run.device, run.dtype
    model = build_model(run.spec.model).to(dev)
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer))
    x = torch.randint(0, model_cfg.vocab_size, (batch_size, model_cfg.context + 1), device=dev)

    def loss_of(inputs, targets):
        with autocast(dev, dt):
            return model(inputs, targets)  # the trainer's call: the loss inside the model

    fn = torch.compile(loss_of, dynamic=False) if compile else loss_of  # as the trainer does
    return StepParts(model, opt, fn, (x[:, :-1].contiguous(), x[:, 1:].contiguous()), dt)


def training_step(model_cfg: ModelConfig, batch_size: int = 8, device: str = "auto",
                  dtype: str = "auto", compile: bool = False, optimizer: str = "muon"):
    """A full training step (forward, backward, optimizer) on random tokens, built as the trainer
    builds it, warmed up (allocations, compile); returns (step function, model)."""
    parts = step_parts(model_cfg, batch_size, device, dtype, compile, optimizer)

    def step():
        loss = parts.loss_fn(*parts.batch)
        loss.backward()
        parts.optimizer.step()
        parts.optimizer.zero_grad(set_to_none=True)
        return loss.item()

    step()
    return step, parts.model


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
    parts = step_parts(model_cfg, batch_size, device, dtype, compile, optimizer)

    def step():
        parts.loss_fn(*parts.batch).backward()
        parts.optimizer.step()
        parts.optimizer.zero_grad(set_to_none=True)

    step()  # warm up: allocations, compiling
    return {**time_steps(step, batch_size * model_cfg.context, seconds),
            "params": parts.model.num_params(), "device": str(parts.batch[0].device),
            "dtype": str(parts.dtype)}
