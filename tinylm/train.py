"""The timed trainer: train for a wall-clock budget, not a number of steps.

The budget covers the training loop from its first step, periodic evaluations and compile
time included; data preparation and the final evaluation are reported separately. The
learning rate is a function of the elapsed *fraction of the budget*, so a run ends annealed
whatever the hardware does per second.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from . import checkpoint, distributed, quick
from .data import Batches, TokenData, val_windows
from .device import DEVICES, DTYPES, autocast, resolve_device, resolve_dtype, set_threads
from .evaluate import evaluate
from .model import GPT, ModelConfig, build_model
from .optim import OPTIMIZERS, make_optimizer
from .runs import RunLock, environment

DECAYS = ("cosine", "linear", "wsd")  # wsd: warmup, stable, then a linear warmdown
COMPILE_MODES = ("auto", "on", "off")
# compiling costs ~9 s here (2 layers, cold) and then trains 1.8x faster: at 60 s it gave
# 7.9% lower val_bpb than eager (benchmarks/results/compile-60s); below ~20 s it cannot pay
COMPILE_MIN_BUDGET_S = 45


@dataclass
class TrainConfig:
    """How to spend the budget."""

    budget_s: float = 300.0
    batch_size: int = 8  # small batches win at this budget: more optimizer steps
    lr: float = 4e-3
    warmup_frac: float = 0.03
    decay: str = "wsd"
    final_lr_frac: float = 0.0  # learning rate at the end, as a fraction of `lr`
    warmdown_frac: float = 0.5  # wsd only: the last fraction of the budget decays linearly
    optimizer: str = "muon"
    muon_lr_scale: float = 5.0  # Muon's learning rate as a multiple of `lr` (AdamW's)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every_frac: float = 0.1  # periodic validation every tenth of the budget
    eval_tokens: int = 4096  # periodic validation: a fixed prefix of the windows
    final_eval_tokens: int | None = 262_144  # final validation (None: all of it)
    device: str = "auto"
    dtype: str = "auto"
    compile: str = "auto"
    threads: int | None = None
    seed: int = 1337
    checkpoint_every_frac: float = 0.25  # periodic checkpoints, when writing to a folder
    steps: int | None = None  # a fixed step count drives the schedule (reproducible runs);
    # the budget still caps the run

    def validate(self) -> None:
        """ValueError naming the field and a fix, before any expensive work."""
        b = self.budget_s
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b <= 0:
            raise ValueError(f"budget_s must be a positive number of seconds, got {b!r}")
        _positive_int("batch_size", self.batch_size)
        for name in ("lr", "weight_decay", "grad_clip", "eval_every_frac", "final_lr_frac",
                     "warmup_frac", "checkpoint_every_frac", "beta1", "beta2", "warmdown_frac",
                     "muon_lr_scale"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a number, got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}; try 1e-3 to 1e-2")
        if not 0 <= self.warmup_frac < 1 or not 0 <= self.final_lr_frac <= 1 \
                or not 0 < self.warmdown_frac <= 1:
            raise ValueError("warmup_frac must be in [0, 1), final_lr_frac in [0, 1] and "
                             "warmdown_frac in (0, 1]")
        if not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ValueError("beta1 and beta2 must be in [0, 1)")
        if self.muon_lr_scale <= 0:
            raise ValueError(f"muon_lr_scale must be > 0, got {self.muon_lr_scale}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0 (0 turns clipping off)")
        if not 0 < self.eval_every_frac <= 1 or not 0 < self.checkpoint_every_frac <= 1:
            raise ValueError("eval_every_frac and checkpoint_every_frac must be in (0, 1]")
        _positive_int("eval_tokens", self.eval_tokens)
        if self.final_eval_tokens is not None:
            _positive_int("final_eval_tokens", self.final_eval_tokens)
        for name, kinds in (("decay", DECAYS), ("optimizer", OPTIMIZERS),
                            ("compile", COMPILE_MODES)):
            if getattr(self, name) not in kinds:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}: use one of "
                                 f"{', '.join(kinds)}")
        if self.threads is not None:
            _positive_int("threads", self.threads)
        if self.steps is not None:
            _positive_int("steps", self.steps)
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.dtype, str) or self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}: use one of {', '.join(DTYPES)}")
        if not isinstance(self.device, str) or (
                self.device not in DEVICES and not self.device.startswith("cuda:")):
            raise ValueError(f"unknown device {self.device!r}: use one of {', '.join(DEVICES)}")


def _positive_int(name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


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
    else:
        shape = min(1.0, (1 - frac) / max(1e-9, cfg.warmdown_frac))
    return cfg.lr * (cfg.final_lr_frac + (1 - cfg.final_lr_frac) * shape)


@dataclass
class TrainResult:
    """What a run produced: the model, its metrics and where they were saved."""

    model: GPT
    metrics: dict
    status: str  # completed | stopped | interrupted | diverged
    message: str = ""
    out_dir: Path | None = None
    history: list = field(default_factory=list)

    def __repr__(self) -> str:
        m = self.metrics
        return (f"TrainResult({self.status}, val_bpb={m.get('val_bpb', float('nan')):.4f}, "
                f"val_ppl={m.get('val_ppl', float('nan')):.2f}, tokens={m.get('tokens_seen')})")


def want_compile(cfg: TrainConfig, device: torch.device, distributed: bool = False) -> bool:
    if cfg.compile == "auto":
        return device.type != "mps" and not distributed and cfg.budget_s >= COMPILE_MIN_BUDGET_S
    return cfg.compile == "on"


def train(data: TokenData, model_cfg: ModelConfig | None = None,
          train_cfg: TrainConfig | None = None, out_dir: str | Path | None = None,
          callback: Callable[[dict], None] | None = None, stop: Callable[[], bool] | None = None,
          resume: str | Path | None = None, progress: bool = True,
          info: dict | None = None) -> TrainResult:
    """Train a model on prepared data for `train_cfg.budget_s` seconds of wall clock.

    `callback(record)` gets each history record as it is made (notebooks draw live curves with
    it); `stop()` returning True ends the run early, keeping the model (the Stop button).
    Ctrl-C does the same and marks the result "interrupted". `resume` continues a checkpoint
    folder's unfinished run with its remaining budget, optimizer and schedule state.
    """
    model_cfg = model_cfg or ModelConfig(vocab_size=data.vocab_size)
    train_cfg = train_cfg or TrainConfig()
    model_cfg.validate()
    train_cfg.validate()
    if model_cfg.vocab_size != data.vocab_size:
        raise ValueError(f"model vocab_size {model_cfg.vocab_size} differs from the tokenizer's "
                         f"{data.vocab_size}; set vocab_size=data.vocab_size")
    ranks = distributed.setup()
    windows = val_windows(data.val, model_cfg.context,
                          quick.eval_tokens(train_cfg.final_eval_tokens))
    batches = Batches(data.train, model_cfg.context, train_cfg.batch_size,
                      train_cfg.seed + ranks.rank)
    device = resolve_device(train_cfg.device)
    if device.type == "cuda" and ranks.active:
        device = torch.device("cuda", ranks.local_rank)
    dtype = resolve_dtype(train_cfg.dtype, device)
    threads = train_cfg.threads
    if threads is None and ranks.local_world > 1:  # share the cores, don't fight over them
        threads = max(1, (os.cpu_count() or 1) // ranks.local_world)
    threads = set_threads(threads)
    torch.manual_seed(train_cfg.seed)
    from .resources import check_fits  # noqa: PLC0415 (keeps import-time light)

    check_fits(model_cfg, train_cfg.batch_size, device)
    model = build_model(model_cfg).to(device)
    optimizer = make_optimizer(model, train_cfg)
    loop = _Loop(model, optimizer, train_cfg, device, dtype, ranks)
    state = None
    if resume is not None:
        state = _restore(Path(resume), model, optimizer, batches)
        loop.elapsed0, loop.tokens, loop.step = state["elapsed_s"], state["tokens"], state["step"]
        loop.history = list(state["history"])
    if not ranks.main:  # rank 0 alone saves, reports and shows progress
        out_dir, callback, progress = None, None, False
    lock = RunLock(out_dir) if out_dir is not None else None
    info = {**(info or {}), "train_config": asdict(train_cfg), "data": data.meta}

    def save(status: str, metrics: dict | None = None) -> None:
        if out_dir is None:
            return
        state = {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                 "batches": batches.state_dict(), "elapsed_s": loop.elapsed(),
                 "tokens": loop.tokens, "step": loop.step, "history": loop.history}
        checkpoint.save(out_dir, model, data.tokenizer, {**info, "status": status},
                        metrics, None if status == "completed" else _jsonable_state(state))

    try:
        if lock:
            lock.acquire()
        status, message = loop.run(batches, windows, data.token_bytes, callback, stop,
                                   save if out_dir is not None else None, progress)
        train_seconds = loop.elapsed()
        t_eval = time.perf_counter()
        final = evaluate(model, windows, data.token_bytes, device, dtype)
        eval_seconds = time.perf_counter() - t_eval
        metrics = _metrics(loop, model, final, train_cfg, data, device, dtype, threads,
                           status, message, train_seconds, eval_seconds)
        if callback:
            callback({"event": "end", **metrics})
        save(status, metrics)
    finally:
        if lock:
            lock.release()
    out = Path(out_dir) if out_dir is not None else None
    return TrainResult(model, metrics, status, message, out, loop.history)


def _jsonable_state(state: dict) -> dict:
    """Resume state for torch.load(weights_only=True): tensors, plain containers, numbers."""
    rng = state["batches"]["rng"]
    state = dict(state)
    state["batches"] = {"rng": {**rng, "state": {k: str(v) for k, v in rng["state"].items()}}}
    return state


def _restore(path: Path, model, optimizer, batches) -> dict:
    ckpt = checkpoint.load(path)
    state = ckpt.resume_state()
    if state is None:
        raise ValueError(f"{path}: this run finished ({ckpt.info.get('status')}); there is "
                         "nothing to resume. Train a new run instead")
    if ckpt.model_config != model.cfg:
        raise ValueError(f"{path}: the checkpoint's model config differs from this run's; "
                         "resume with the same settings (the CLI reads them from the folder)")
    model.load_state_dict(ckpt.model.state_dict())
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    rng = state["batches"]["rng"]
    batches.load_state_dict({"rng": {**rng, "state": {k: int(v) for k, v in rng["state"].items()}}})
    return state


class _Loop:
    """The step loop and its bookkeeping, kept apart from setup and saving."""

    def __init__(self, model, optimizer, cfg: TrainConfig, device, dtype, ranks):
        self.model, self.optimizer, self.cfg = model, optimizer, cfg
        self.device, self.dtype, self.ranks = device, dtype, ranks
        self.forward_model = DDP(model) if ranks.active else model
        self.compiled = want_compile(cfg, device, ranks.active)
        self.step_fn = self._compiled_step() if self.compiled else self._step
        self.elapsed0 = 0.0  # seconds spent before a resume
        self.tokens = self.step = 0
        self.history: list[dict] = []
        self.start = time.perf_counter()
        self.first_step_s = self.max_step_s = self.max_eval_s = 0.0

    def elapsed(self) -> float:
        return self.elapsed0 + time.perf_counter() - self.start

    def _step(self, x, y):
        with autocast(self.device, self.dtype):
            return self.forward_model(x, y)

    def _compiled_step(self):
        return torch.compile(self._step, dynamic=False)  # model and loss as one graph

    def run(self, batches, windows, token_bytes, callback, stop, save, progress):
        """Step until the budget (or `steps`) is spent; returns (status, message)."""
        cfg = self.cfg
        n = max(1, min(len(windows), cfg.eval_tokens // (windows.shape[1] - 1)))
        self.eval_windows = windows[torch.linspace(0, len(windows) - 1, n).long()]  # spread out
        self.token_bytes, self.callback = token_bytes, callback
        log_every = cfg.budget_s / 200
        next_log = self.elapsed0 + log_every
        next_eval = self.elapsed0 + cfg.budget_s * cfg.eval_every_frac
        next_save = self.elapsed0 + cfg.budget_s * cfg.checkpoint_every_frac
        self.good = self._snapshot()
        self.losses: list[float] = []
        self.tokens0 = self.tokens  # tokens seen before a resume
        status, message = "completed", ""
        self.bar = tqdm(total=round(cfg.budget_s), unit="s", disable=not progress,
                        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s [{remaining} left{postfix}]")
        self.start = time.perf_counter()
        try:
            while True:
                now, stopping = distributed.agree(self.ranks, self.elapsed(),
                                                  stop is not None and stop())
                if now >= cfg.budget_s:
                    break
                if stopping:
                    status = "stopped"
                    break
                if cfg.steps is not None and self.step >= cfg.steps:
                    break
                t_iter = time.perf_counter()
                if self.step == 0 and self.compiled:
                    self.bar.set_postfix_str("compiling the model (first step only)", refresh=True)
                lr = lr_at(cfg, self.step / cfg.steps if cfg.steps else now / cfg.budget_s)
                loss = self._train_step(batches, lr)
                if not math.isfinite(loss):
                    self.model.load_state_dict(self.good)
                    status = "diverged"
                    message = (f"loss became {loss} at step {self.step} (lr {lr:.2e}): the "
                               f"learning rate is probably too high; try lr={cfg.lr / 3:.1e}. "
                               "Kept the weights of the last good evaluation")
                    break
                now = self.elapsed()
                if now >= next_log or now >= next_eval:
                    self._log(now, lr, evaluate_now=now >= next_eval)
                    next_log = now + log_every
                    if now >= next_eval:
                        next_eval += cfg.budget_s * cfg.eval_every_frac
                if save is not None and now >= next_save:
                    save("running")
                    next_save += cfg.budget_s * cfg.checkpoint_every_frac
                iter_s = time.perf_counter() - t_iter
                if self.step == 1:
                    self.first_step_s = iter_s  # includes compiling
                else:
                    self.max_step_s = max(self.max_step_s, iter_s)
        except KeyboardInterrupt:
            status = "interrupted"
            message = "interrupted: kept the model trained so far"
        finally:
            self.bar.n = min(round(self.elapsed()), self.bar.total)
            self.bar.close()
        return status, message

    def _snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _train_step(self, batches, lr: float) -> float:
        """One optimizer step at learning rate `lr`; returns the loss (not applied if not finite)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        x, y = batches.next()
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        loss = self._forward(x, y)
        value = loss.item()
        if not math.isfinite(value):
            return value
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += x.numel() * self.ranks.world
        self.losses.append(value)
        return value

    def _log(self, now: float, lr: float, evaluate_now: bool) -> None:
        """Append a history record (with a validation loss if `evaluate_now`) and report it."""
        record = {"step": self.step, "elapsed_s": round(now, 3), "tokens": self.tokens,
                  "train_loss": sum(self.losses) / max(1, len(self.losses)), "lr": lr}
        self.losses = []
        if evaluate_now and self.ranks.main:
            t_eval = time.perf_counter()
            val = evaluate(self.model, self.eval_windows, self.token_bytes, self.device, self.dtype)
            self.max_eval_s = max(self.max_eval_s, time.perf_counter() - t_eval)
            record.update(val_loss=val["val_loss"], val_bpb=val["val_bpb"])
            if math.isfinite(val["val_loss"]):
                self.good = self._snapshot()
        self.history.append(record)
        if self.callback:
            self.callback({"event": "log", **record})
        self.bar.n = min(round(now), self.bar.total)
        rate = self.tokens - self.tokens0
        self.bar.set_postfix_str(f"loss {record['train_loss']:.3f}, "
                                 f"{rate / max(now - self.elapsed0, 1e-9):,.0f} tok/s", refresh=True)

    def _forward(self, x, y):
        if not self.compiled:
            return self.step_fn(x, y)
        try:
            return self.step_fn(x, y)
        except Exception as e:  # no C compiler, unsupported platform...: fall back to eager
            if self.step > 0:
                raise
            warnings.warn(f"torch.compile failed ({type(e).__name__}); training without it",
                          stacklevel=2)
            self.step_fn, self.compiled = self._step, False
            return self.step_fn(x, y)


def _metrics(loop: _Loop, model: GPT, final: dict, cfg: TrainConfig, data: TokenData,
             device, dtype, threads, status, message, train_seconds, eval_seconds) -> dict:
    return {
        "status": status, "message": message,
        **{k: final[k] for k in ("val_loss", "val_bpb", "val_ppl")},
        "val_tokens": final["tokens"], "val_bytes": final["bytes"],
        "tokens_seen": loop.tokens, "steps": loop.step,
        "tokens_per_s": loop.tokens / max(train_seconds, 1e-9),
        "params": model.num_params(), "params_non_embedding": model.num_params(True),
        "train_seconds": train_seconds, "budget_s": cfg.budget_s,
        "first_step_seconds": loop.first_step_s, "max_step_seconds": loop.max_step_s,
        "max_eval_seconds": loop.max_eval_s, "compiled": loop.compiled,
        "final_eval_seconds": eval_seconds, "prepare_seconds": data.prepare_seconds,
        **environment(device, dtype, threads), "world_size": loop.ranks.world,
        "history": loop.history,
    }
