"""Which device trains fastest here? Measured once per machine, cached beside the token cache.

An Apple GPU (MPS) is often slower than the CPU for a 1M-parameter model at batch 8: each step
is hundreds of tiny kernel launches (pytorch/pytorch#122973, karpathy/llama2.c#461), and a
GPU only pays off at a bigger batch. So `device="auto"` times a few full training steps of the
default model on every device there is, with a batch ladder on accelerators, and keeps the
measurements in `<cache>/machine.json` keyed by the machine: a few seconds, once, before any
training budget starts. A machine with only a CPU has nothing to compare and measures nothing.

A bigger batch makes fewer, larger steps. Batches are compared by the learning-rate rule of
`measured.LR_BATCH_EXPONENT`: a step at batch B counts as (B / 8) ** exponent steps at batch 8.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from tinylm.core.folder import atomic_write
from tinylm.core.models import ModelConfig
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import RunSpec, resolve, resolve_model
from tinylm.machine import busy
from tinylm.machine.device import default_threads
from tinylm.machine.memory import usable_cpus
from tinylm.measured import COMPILE_SPEEDUP, LR_BATCH_EXPONENT, LR_BATCH_EXPONENT_MEASURED
from tinylm.tuning.fit import check_fits
from tinylm.tuning.speed import measure_throughput
from tinylm.version import __version__

BATCH_LADDER = (8, 16, 32, 64, 128)  # accelerators; the CPU runs the default batch
PROBE_SECONDS = 0.4  # of timed steps per point, after one warm-up step
CACHE_NAME = "machine.json"
FORMAT = 1
_memo: dict[str, dict] = {}  # cache path -> probe, for this process (and a read-only cache)


def accelerators() -> list[str]:
    """The GPUs torch can train on here: "cuda", "mps", both or none."""
    found = ["cuda"] if torch.cuda.is_available() else []
    return found + (["mps"] if torch.backends.mps.is_available() else [])


def fingerprint() -> dict:
    """What a measurement depends on; any change (new torch, another GPU) measures again."""
    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    return {"format": FORMAT, "tinylm": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "node": platform.node(),
            "system": platform.system(), "machine": platform.machine(),
            "processor": platform.processor(), "cpus": usable_cpus(),
            "threads": default_threads(), "cuda": cuda, "mps": "mps" in accelerators()}


def cache_path(cache_dir: str | Path | None = None) -> Path:
    from tinylm.machine.cache import default_cache_dir

    return Path(cache_dir or default_cache_dir()) / CACHE_NAME


def measure_point(device: str, batch_size: int, seconds: float = PROBE_SECONDS) -> dict:
    """Tokens per second of full training steps of the default model, as the trainer runs it."""
    r = measure_throughput(ModelConfig(), batch_size, device, seconds=seconds)
    return {"tokens_per_s": r["tokens_per_s"], "step_seconds": r["step_seconds"],
            "dtype": r["dtype"].removeprefix("torch.")}


def probe(progress: bool = True, refresh: bool = False, cache_dir: str | Path | None = None,
          measure=measure_point) -> dict:
    """This machine's measurements: from the cache when it matches the machine, else measured
    now (and cached). `measure(device, batch_size)` is replaceable for tests."""
    if not accelerators():
        return {"rows": [], "how": "only a CPU here: nothing to compare"}
    path = cache_path(cache_dir)
    found = None if refresh else cached_probe(cache_dir)
    if found is not None:
        return found
    from tqdm.auto import tqdm

    start, rows = time.perf_counter(), []
    bar = tqdm(total=1 + len(accelerators()) * len(BATCH_LADDER), disable=not progress,
               desc="measuring this machine's devices (once)")
    rows.append({"device": "cpu", "batch_size": TrainConfig.batch_size,
                 **measure("cpu", TrainConfig.batch_size)})
    bar.update()
    for device in accelerators():
        best = 0.0
        for batch in BATCH_LADDER:
            try:
                check_fits(resolve_model(ModelConfig()), batch, torch.device(device))
                row = {"device": device, "batch_size": batch, **measure(device, batch)}
            except Exception as e:  # out of memory, an op the backend lacks: the ladder ends
                rows.append({"device": device, "batch_size": batch,
                             "error": f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]}"})
                break
            rows.append(row)
            bar.update()
            if effective_speed(row, compiled=False) < best:
                break  # past the batch that fills this device
            best = effective_speed(row, compiled=False)
    bar.total = bar.n  # the ladders stopped early: a full bar
    bar.close()
    found = {"fingerprint": fingerprint(), "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
             "seconds": round(time.perf_counter() - start, 2), "rows": rows, "how": "measured"}
    _memo[str(path)] = found
    if busy.others():  # another training slowed the CPU down: good for now, not for keeps
        found["how"] = "measured while another training ran (not cached)"
        return found
    try:  # atomic: a second process never reads half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(found, indent=1))
    except OSError:
        pass  # a read-only cache: measured again in the next process
    return found


def cached_probe(cache_dir: str | Path | None = None) -> dict | None:
    """The stored measurements if they were made on this machine as it is now, else None."""
    path = cache_path(cache_dir)
    found = _memo.get(str(path))
    if found is None:
        try:
            found = {**json.loads(path.read_text()), "how": f"measured earlier, cached in {path}"}
        except (OSError, ValueError, TypeError):
            return None
    if found.get("fingerprint") != fingerprint():
        return None
    _memo[str(path)] = found
    return found


def step_worth(batch_size: int) -> float:
    """How many default-batch steps one step at `batch_size` is worth (the batch rule)."""
    return (batch_size / TrainConfig.batch_size) ** LR_BATCH_EXPONENT


def lr_for_batch(batch_size: int, lr: float = TrainConfig.lr) -> float:
    """The learning rate for `batch_size`, scaled from the one tuned at the default batch."""
    return lr * step_worth(batch_size)


def expected_speed(row: dict, compiled: bool) -> float:
    """A measured row's training tokens per second, with the measured compile gain for a CPU
    that will compile (accelerators are compared at their eager speed)."""
    return row["tokens_per_s"] * (COMPILE_SPEEDUP if compiled and row["device"] == "cpu" else 1.0)


def effective_speed(row: dict, compiled: bool) -> float:
    """`expected_speed` weighed by the batch rule: default-batch steps' worth per second."""
    return expected_speed(row, compiled) * step_worth(row["batch_size"]) / (
        row["batch_size"] / TrainConfig.batch_size)


def choose(found: dict, budget_s: float = TrainConfig.budget_s, batch_size: int | None = None,
           compile: str = "auto") -> dict:
    """Device and batch for a budget from the measurements: the fastest at `batch_size` when
    one is given, else the best device and batch by the batch rule (with its learning rate)."""

    rows = [r for r in found["rows"] if "tokens_per_s" in r]
    if not rows:
        return {"device": "cpu", "batch_size": batch_size or TrainConfig.batch_size,
                "how": found["how"]}
    if batch_size is not None:  # each device at its measured batch nearest to the one asked
        def distance(r):
            return abs(r["batch_size"] - batch_size)

        rows = [min((r for r in rows if r["device"] == d), key=distance)
                for d in dict.fromkeys(r["device"] for r in rows)]
    cpu = TrainConfig(budget_s=budget_s, compile=compile, device="cpu", threads=1)
    compiles = resolve(RunSpec(train=cpu)).compile  # whether a CPU run would compile
    best = max(rows, key=lambda r: effective_speed(r, compiles))
    batch = batch_size or best["batch_size"]
    pick = {"device": best["device"], "batch_size": batch,
            "expected_tokens_per_s": expected_speed(best, compiles),
            "cpu_compiles": compiles, "how": found["how"], "measurements": found["rows"]}
    if batch_size is None:
        pick.update(lr=lr_for_batch(batch), lr_rule=f"lr x (batch / {TrainConfig.batch_size}) ** "
                    f"{LR_BATCH_EXPONENT}" + ("" if LR_BATCH_EXPONENT_MEASURED else
                                              " (assumed, not yet measured here)"))
    return pick


def device_for(cfg: TrainConfig, measure: bool = True, progress: bool = True) -> str | None:
    """The measured fastest device at the run's batch, for `device="auto"` (measuring first if
    this machine has no measurements yet and `measure` is set); None when nothing is measured
    and measuring is not allowed now (a distributed run)."""
    found = probe(progress) if measure else cached_probe()
    if found is None:
        return None
    return choose(found, cfg.budget_s, cfg.batch_size, cfg.compile)["device"]


def record(cfg: TrainConfig, device: torch.device, how: str) -> dict:
    """How the run's device was chosen (`how`, from `resolve`), with the measurements behind
    it (for metrics.json)."""
    if how == "asked for":
        return {"asked": cfg.device, "device": str(device), "how": how}
    found = cached_probe() if accelerators() else probe(progress=False)
    if found is None:
        return {"asked": "auto", "device": str(device), "how": "not measured (distributed run)"}
    return {"asked": "auto", **choose(found, cfg.budget_s, cfg.batch_size, cfg.compile),
            "device": str(device)}
