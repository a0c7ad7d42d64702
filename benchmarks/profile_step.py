"""Where a training step's milliseconds go: the default step in parts, and its heaviest ops.

    python -m benchmarks.profile_step [--label before] [key=value ...]

Builds the trainer's step (the trainer's dtype, compiled, the default model unless overridden, batch 8 x 256,
random tokens drawn as the trainer draws them, `tinylm.core.data.Batches` over a stream the size of
TinyStories' training text), warms it up, then times `--steps` steps part by part with a clock
around each part (batch assembly, forward + loss, backward, gradient clipping, optimizer,
zero_grad), and profiles a few
more with `torch.profiler` to rank the ops inside them. Writes
benchmarks/results/profile/LABEL.json (holds the benchmark lock, like run.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmarks.run import bench_lock
from tinylm.core.data import Batches
from tinylm.core.models import ModelConfig
from tinylm.lab.recipes import _parse_value
from tinylm.lab.results import REPO
from tinylm.machine.device import set_threads
from tinylm.tuning.speed import step_parts

STREAM_TOKENS = 4_870_000  # TinyStories' training text at vocabulary 4096 (../shared/data)
PARTS = ("batch", "forward+loss", "backward", "clip", "optimizer", "zero_grad")


def build(overrides: dict, batch_size: int, compile_: bool):
    """The trainer's step pieces (`tinylm.tuning.speed.step_parts`) for the default model with
    `overrides`: model, optimizer, loss function, the trainer's batch sampler over random
    tokens, the dtype."""
    cfg = ModelConfig(**{k: v for k, v in overrides.items() if k in ModelConfig.__dataclass_fields__})
    parts = step_parts(cfg, batch_size, "cpu", "auto", compile_)
    stream = np.random.default_rng(0).integers(0, cfg.vocab_size, STREAM_TOKENS, dtype=np.uint16)
    return (parts.model, parts.optimizer, parts.loss_fn, Batches(stream, cfg.context, batch_size),
            parts.dtype)


def timed_step(model, opt, fn, batches) -> dict:
    """One step; seconds per part."""
    marks = [time.perf_counter()]
    batch = batches.next()
    marks.append(time.perf_counter())
    loss = fn(*batch)
    loss.item()
    marks.append(time.perf_counter())
    loss.backward()
    marks.append(time.perf_counter())
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    marks.append(time.perf_counter())
    opt.step()
    marks.append(time.perf_counter())
    opt.zero_grad(set_to_none=True)
    marks.append(time.perf_counter())
    return {p: b - a for p, a, b in zip(PARTS, marks, marks[1:])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="ModelConfig key=value")
    p.add_argument("--label", default="default")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--eager", action="store_true")
    args = p.parse_args(argv)
    overrides = {k: _parse_value(v) for k, _, v in (o.partition("=") for o in args.overrides)}
    set_threads(None)
    with bench_lock():
        model, opt, fn, batches, dtype = build(overrides, args.batch_size, not args.eager)
        for _ in tqdm(range(5), desc="warm-up (compiling)"):
            timed_step(model, opt, fn, batches)
        samples = [timed_step(model, opt, fn, batches) for _ in tqdm(range(args.steps), desc="timing")]
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                timed_step(model, opt, fn, batches)
    parts_ms = {part: 1e3 * statistics.median(s[part] for s in samples) for part in PARTS}
    step_ms = 1e3 * statistics.median(sum(s.values()) for s in samples)
    tokens = args.batch_size * model.cfg.context
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    top = [{"op": e.key, "self_ms_per_step": e.self_cpu_time_total / 1e3 / 10,
            "calls_per_step": e.count / 10} for e in ops[:25]]
    result = {"label": args.label, "overrides": overrides, "compiled": not args.eager,
              "batch_size": args.batch_size, "dtype": str(dtype),
              "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
              "step_ms": step_ms, "tokens_per_s": tokens / (step_ms / 1e3),
              "parts_ms": parts_ms, "params": model.num_params(),
              "flops_per_token": model.train_flops_per_token(), "top_ops": top}
    print(f"{args.label}: {step_ms:.1f} ms/step, {result['tokens_per_s']:,.0f} tok/s")
    for part, ms in parts_ms.items():
        print(f"  {part:13s} {ms:6.1f} ms")
    for row in top[:15]:
        print(f"  {row['self_ms_per_step']:6.2f} ms  x{row['calls_per_step']:<5g} {row['op'][:70]}")
    out = REPO / "benchmarks" / "results" / "profile"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.label}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
