"""Which model size for this budget on this laptop? Measure, then apply the fitted rule."""

from __future__ import annotations

import math
from dataclasses import replace

from tinylm.core.models import ModelConfig, param_count
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import RunSpec, resolve
from tinylm.measured import (
    COMPILE_COLD_S,
    COMPILE_SPEEDUP,
    TOKENS_PER_PARAM,
    TOKENS_PER_PARAM_AT_S,
    TOKENS_PER_PARAM_EXPONENT,
)
from tinylm.tuning import probe as machine
from tinylm.tuning.speed import measure_throughput

# The size ladder `calibrate` measures (width, layers, heads): the shapes of the size sweeps in
# benchmarks/results/sizes-* (2 layers, 2 heads), and one wider step for fast machines.
LADDER = [(64, 2, 2), (96, 2, 2), (128, 2, 2), (160, 2, 2), (192, 2, 2)]
# The rule (`measured.TOKENS_PER_PARAM` and its exponent), fitted by benchmarks/fit_calibration.py
# from those sweeps. The best size hardly moves with the budget, because most parameters are
# the embedding tables, so the best tokens per parameter grows with it. The rule counts
# parameters as the sweeps that fitted it had them: without the value-embedding tables
# (lookups added after the first fit, 0.78M at width 96), so turning them on does not by itself
# push the pick to a smaller model.


def rule_tokens_per_param(budget_s: float) -> float:
    """The estimated tokens per parameter of the best size for a budget (the fitted power law)."""
    return TOKENS_PER_PARAM * (budget_s / TOKENS_PER_PARAM_AT_S) ** TOKENS_PER_PARAM_EXPONENT


def closest_to_rule(rows: list[dict], budget_s: float, tokens_per_param) -> dict:
    """The row whose `tokens_per_param(row)` is nearest the rule's for the budget (by ratio)."""
    rule = rule_tokens_per_param(budget_s)
    return min(rows, key=lambda r: abs(math.log(tokens_per_param(r) / rule)))


def usable_seconds(budget_s: float, compiled: bool) -> float:
    """The seconds of a budget that train: all of it, less the first compile when compiling."""
    return max(1.0, budget_s - (COMPILE_COLD_S if compiled else 0.0))


def ladder_pick(ladder: list[dict], ladder_budget_s: float, budget_s: float,
                compiled: bool = True) -> dict:
    """The rung `calibrate` would pick for `budget_s` from a ladder it measured for
    `ladder_budget_s` (a stored `calibrate-check.json`, say): the same speeds, so each rung's
    expected tokens scale with the usable seconds. (The shapes are those of the ladder's budget;
    value tables switch on from 200 s, so cross that line with a fresh `calibrate`.)"""
    if not ladder:
        raise ValueError("ladder is empty: pass the 'ladder' rows of a calibrate result")
    scale = usable_seconds(budget_s, compiled) / usable_seconds(ladder_budget_s, compiled)
    rows = [{**r, "expected_tokens": r["expected_tokens"] * scale,
             "tokens_per_param": r["tokens_per_param"] * scale} for r in ladder]
    return closest_to_rule(rows, budget_s, lambda r: r["tokens_per_param"])


def calibrate(budget_s: float = 300.0, base: dict | None = None, batch_size: int | None = None,
              seconds_per_size: float = 2.0, vocab_size: int = 4096, compile: bool | None = None,
              progress: bool = True, device: str = "auto", threads: int | None = None) -> dict:
    """Pick device, batch and model size for the budget on this machine: the device and batch
    from `machine.py`'s measurements (`device="auto"`, `batch_size=None`), then the size whose
    expected tokens per parameter, measured on the size ladder there, is closest to the rule.
    `threads` limits the CPU threads (a slower laptop: 1 thread here is half the compute)."""
    from tqdm.auto import tqdm

    if not isinstance(budget_s, (int, float)) or not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds, got {budget_s!r}")
    mode = "auto" if compile is None else "on" if compile else "off"
    picks = []

    def measured_choice(train: TrainConfig) -> str:  # asked only for device="auto"
        picks.append(machine.choose(machine.probe(progress), budget_s, batch_size, mode))
        return picks[0]["device"]

    run = resolve(RunSpec(train=TrainConfig(budget_s=budget_s, compile=mode, device=device)),
                  measured_choice)
    pick = picks[0] if picks else {"batch_size": batch_size or TrainConfig.batch_size,
                                   "how": run.device_how}
    dev, batch_size, compiled = str(run.device), pick["batch_size"], run.compile
    pick["device"] = dev
    shape = {"width", "layers", "heads", "vocab_size"}
    base = {k: v for k, v in (base or {}).items()
            if k in ModelConfig.__dataclass_fields__ and k not in shape}
    usable = usable_seconds(budget_s, compiled)
    rows = []
    for width, layers, heads in tqdm(LADDER, desc="calibrating", disable=not progress):
        cfg = resolve(RunSpec(model=ModelConfig(**{**base, "vocab_size": vocab_size,
                                                   "width": width, "layers": layers,
                                                   "heads": heads}),
                              train=run.spec.train)).spec.model  # what would train
        speed = measure_throughput(cfg, batch_size, dev, seconds=seconds_per_size,
                                   threads=threads)
        tps = speed["tokens_per_s"] * (COMPILE_SPEEDUP if compiled else 1.0)
        tokens = tps * usable
        rule_params = param_count(replace(cfg, value_embeds=False))  # as the rule was fitted
        rows.append({"width": width, "layers": layers, "heads": heads, "params": speed["params"],
                     "rule_params": rule_params, "eager_tokens_per_s": speed["tokens_per_s"],
                     "expected_tokens": tokens, "tokens_per_param": tokens / rule_params})
    best = closest_to_rule(rows, budget_s, lambda r: r["tokens_per_param"])
    return {"budget_s": budget_s, "device": dev, "batch_size": batch_size,
            "lr": machine.lr_for_batch(batch_size),
            "compiled": compiled, "rule_tokens_per_param": rule_tokens_per_param(budget_s),
            "choice": {k: best[k] for k in ("width", "layers", "heads")},
            "params": best["params"], "ladder": rows, "machine": pick}


def train_settings(result: dict) -> dict:
    """The settings `train --size auto` trains from a `calibrate` result: its shape, device,
    batch and learning rate (one mapping, for the CLI and the GPU check)."""
    return {**result["choice"], **{k: result[k] for k in ("device", "batch_size", "lr")}}
