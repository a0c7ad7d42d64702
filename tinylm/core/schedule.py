"""`TrainConfig` (how to spend the budget) and `lr_at` (the learning rate at each moment of it).

The schedule is a function of the elapsed *fraction of the budget*, not of the step count, so
a run ends annealed whatever the hardware does per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinylm.machine.device import DEVICES, DTYPES
from tinylm.options import check_choices, option, positive_int

DECAYS = ("cosine", "linear", "wsd")  # wsd: warmup, stable, then a linear warmdown
COMPILE_MODES = ("auto", "on", "off")
OPTIMIZERS = ("adamw", "muon")
FRACTIONS = ("warmup_frac", "final_lr_frac", "warmdown_frac", "eval_every_frac",
             "checkpoint_every_frac", "short_windows_frac", "batch_ramp_frac",
             "ngram_teacher_frac")


@dataclass
class TrainConfig:
    """How to spend the budget. What "auto" becomes is decided by `tinylm.core.spec.resolve`."""

    budget_s: float = option(300.0, "seconds of training (wall clock, compiling included)")
    batch_size: int = option(8, "windows per optimizer step (small batches win at this budget: "
                                "more steps)")
    # the three below were screened off in study levers5-60s (benchmarks/LOG.md)
    short_windows_frac: float = option(0.0, "for this first fraction of the budget, train on "
                                            "windows a quarter of the context long, four times "
                                            "as many per step (a sequence-length warmup)")
    batch_ramp_frac: float = option(0.0, "for this first fraction of the budget, train on half "
                                         "the batch (a batch-size schedule)")
    ngram_teacher_frac: float = option(0.0, "for this first fraction of the budget, also pull "
                                            "the network towards the n-gram memory's "
                                            "predictions (a distillation term fading to zero)")
    lr: float = option(4e-3, "peak learning rate (AdamW's; Muon's is muon_lr_scale times it)")
    warmup_frac: float = option(0.03, "fraction of the budget spent warming the learning rate up")
    decay: str = option("wsd", "learning-rate decay after warmup (wsd: stable, then a linear "
                               "warmdown)", DECAYS)
    final_lr_frac: float = option(0.0, "learning rate at the end, as a fraction of lr")
    warmdown_frac: float = option(0.5, "wsd: the last fraction of the budget decays linearly")
    optimizer: str = option("muon", "muon: Muon for hidden matrices, AdamW for the rest",
                            OPTIMIZERS)
    muon_lr_scale: float = option(5.0, "Muon's learning rate as a multiple of lr")
    weight_decay: float = option(0.1, "AdamW weight decay on matrices")
    beta1: float = option(0.9, "AdamW beta1")
    # a batch of 2,048 tokens wants a long memory of squared gradients (study beta2-300s)
    beta2: float = option(0.99, "AdamW beta2")
    grad_clip: float = option(1.0, "clip the gradient norm to this (0 = off)")
    eval_every_frac: float = option(0.1, "validate every this fraction of the budget")
    eval_tokens: int = option(4096, "tokens of each periodic validation (a fixed sample)")
    final_eval_tokens: int | None = option(262_144, "tokens of the final validation (None: all)")
    device: str = option("auto", f"where to train: {', '.join(DEVICES)} or cuda:N")
    dtype: str = option("auto", "number format (auto: bf16 where the hardware runs it natively)",
                        DTYPES)
    compile: str = option("auto", "torch.compile (auto: for budgets long enough to repay it)",
                          COMPILE_MODES)
    threads: int | None = option(None, "CPU threads (default: one per core)")
    seed: int = option(1337, "random seed (weights and batches)")
    checkpoint_every_frac: float = option(0.25, "save a checkpoint every this fraction of the "
                                                "budget (when writing to a folder)")
    steps: int | None = option(None, "a fixed step count drives the schedule instead of the "
                                     "clock (reproducible runs); the budget still caps the run")
    sample_at_s: tuple[float, ...] | None = option(None, "seconds of training at which to "
                                                         "record the validation score and a "
                                                         "seeded sample (the clock stops while "
                                                         "it writes): watch it learn")
    sample_prompt: str = option("Once upon a time", "prompt of the samples of sample_at_s")
    sample_tokens: int = option(40, "tokens of each sample of sample_at_s")

    def validate(self) -> None:
        """ValueError naming the field and a fix, before any expensive work."""
        b = self.budget_s
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b <= 0:
            raise ValueError(f"budget_s must be a positive number of seconds, got {b!r}")
        for name in ("lr", "weight_decay", "grad_clip", "beta1", "beta2", "muon_lr_scale",
                     *FRACTIONS):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a number, got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}; try 1e-3 to 1e-2")
        if not 0 <= self.warmup_frac < 1 or not 0 <= self.final_lr_frac <= 1 \
                or not 0 < self.warmdown_frac <= 1:
            raise ValueError("warmup_frac must be in [0, 1), final_lr_frac in [0, 1] and "
                             "warmdown_frac in (0, 1]")
        for name in ("short_windows_frac", "batch_ramp_frac", "ngram_teacher_frac"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1) (0 = off), got {getattr(self, name)}")
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ValueError("beta1 and beta2 must be in [0, 1)")
        if self.muon_lr_scale <= 0:
            raise ValueError(f"muon_lr_scale must be > 0, got {self.muon_lr_scale}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0 (0 turns clipping off)")
        if not 0 < self.eval_every_frac <= 1 or not 0 < self.checkpoint_every_frac <= 1:
            raise ValueError("eval_every_frac and checkpoint_every_frac must be in (0, 1]")
        if self.sample_at_s is not None:
            moments = self.sample_at_s
            if isinstance(moments, (str, bytes)) or not hasattr(moments, "__iter__") or not all(
                    isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m)
                    and m > 0 for m in moments):
                raise ValueError(f"sample_at_s must be positive seconds, e.g. (5, 30, 60), got "
                                 f"{moments!r}")
            self.sample_at_s = tuple(sorted(float(m) for m in moments))
        if not isinstance(self.sample_prompt, str):
            raise ValueError(f"sample_prompt must be text, got {self.sample_prompt!r}")
        for name in ("batch_size", "eval_tokens", "sample_tokens"):
            positive_int(name, getattr(self, name))
        for name in ("final_eval_tokens", "threads", "steps"):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        check_choices(self)
        if not isinstance(self.device, str) or (
                self.device not in DEVICES and not self.device.startswith("cuda:")):
            raise ValueError(f"unknown device {self.device!r}: use one of {', '.join(DEVICES)}")


def lr_at(cfg: TrainConfig, frac: float) -> float:
    """Learning rate at an elapsed fraction of the budget: linear warmup, then decay."""
    frac = min(max(frac, 0.0), 1.0)
    if cfg.warmup_frac and frac < cfg.warmup_frac:
        return cfg.lr * frac / cfg.warmup_frac
    p = (frac - cfg.warmup_frac) / max(1e-9, 1 - cfg.warmup_frac)
    if cfg.decay == "cosine":
        shape = 0.5 * (1 + math.cos(math.pi * p))
    elif cfg.decay == "linear":
        shape = 1 - p
    else:  # wsd: full rate until the warmdown, then linearly to the end
        shape = min(1.0, (1 - frac) / max(1e-9, cfg.warmdown_frac))
    return cfg.lr * (cfg.final_lr_frac + (1 - cfg.final_lr_frac) * shape)


def batch_shape(cfg: TrainConfig, frac: float, context: int) -> tuple[int, int]:
    """(windows, window length) of a step at an elapsed fraction of the budget."""
    batch, length = cfg.batch_size, context
    if frac < cfg.short_windows_frac and context >= 8:
        batch, length = batch * 4, context // 4
    if frac < cfg.batch_ramp_frac:
        batch = max(1, batch // 2)
    return batch, length


def teacher_weight(cfg: TrainConfig, frac: float) -> float:
    """The distillation term's weight: 1 at the start, fading linearly to 0 at
    `ngram_teacher_frac` of the budget."""
    if frac >= cfg.ngram_teacher_frac:
        return 0.0
    return 1.0 - frac / cfg.ngram_teacher_frac
