"""How fast is this laptop? Measure training throughput on random tokens in a few seconds."""

from __future__ import annotations

import math
import time

import torch

from .device import autocast, resolve_device, resolve_dtype, set_threads
from .measured import COMPILE_COLD_S, COMPILE_MIN_BUDGET_S, COMPILE_SPEEDUP, TOKENS_PER_PARAM
from .models import ModelConfig, build_model, lm_loss
from .optim import make_optimizer
from .train import TrainConfig


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
            return lm_loss(model(tokens), tokens)

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


# The size ladder `calibrate` measures (width, layers, heads): the shapes of the size sweeps in
# benchmarks/results/sizes-* (2 layers, 2 heads), and one wider step for fast machines.
LADDER = [(64, 2, 2), (96, 2, 2), (128, 2, 2), (160, 2, 2), (192, 2, 2)]
# The rule (`measured.TOKENS_PER_PARAM`), fitted by benchmarks/fit_calibration.py from those
# sweeps. At 60 s width 96 was best too, with width 64 (the smallest on the ladder, which the
# rule picks there) 0.2% behind: the best size hardly moves, because most parameters are the
# embedding tables.


def calibrate(budget_s: float = 300.0, base: dict | None = None, batch_size: int = 8,
              seconds_per_size: float = 2.0, vocab_size: int = 4096, compile: bool | None = None,
              progress: bool = True) -> dict:
    """Measure this machine on the size ladder and pick the size expected to be best for the
    budget: the one whose expected tokens per parameter is closest to the fitted rule."""
    from tqdm.auto import tqdm

    if not isinstance(budget_s, (int, float)) or not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds, got {budget_s!r}")
    shape = {"width", "layers", "heads", "vocab_size"}
    base = {k: v for k, v in (base or {}).items()
            if k in ModelConfig.__dataclass_fields__ and k not in shape}
    compiled = budget_s >= COMPILE_MIN_BUDGET_S if compile is None else compile
    usable = max(1.0, budget_s - (COMPILE_COLD_S if compiled else 0.0))
    rows = []
    for width, layers, heads in tqdm(LADDER, desc="calibrating", disable=not progress):
        cfg = ModelConfig(**{**base, "vocab_size": vocab_size, "width": width, "layers": layers,
                             "heads": heads})
        speed = measure_throughput(cfg, batch_size, seconds=seconds_per_size)
        tps = speed["tokens_per_s"] * (COMPILE_SPEEDUP if compiled else 1.0)
        tokens = tps * usable
        rows.append({"width": width, "layers": layers, "heads": heads, "params": speed["params"],
                     "eager_tokens_per_s": speed["tokens_per_s"], "expected_tokens": tokens,
                     "tokens_per_param": tokens / speed["params"]})
    best = min(rows, key=lambda r: abs(math.log(r["tokens_per_param"] / TOKENS_PER_PARAM)))
    return {"budget_s": budget_s, "batch_size": batch_size, "rule_tokens_per_param": TOKENS_PER_PARAM,
            "choice": {k: best[k] for k in ("width", "layers", "heads")},
            "params": best["params"], "ladder": rows}
