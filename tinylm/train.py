"""The timed trainer: train for a wall-clock budget, not a number of steps.

The budget covers the training loop from its first step, periodic evaluations and compile
time included; data preparation and the final evaluation are reported separately. The
learning rate follows the elapsed fraction of the budget (`schedule.lr_at`), so a run ends
annealed whatever the hardware does per second.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from . import allocator, busy, checkpoint, compiling, distributed, machine, quick
from .compiling import want_compile
from .corpus import EOT_ID
from .data import Batches, TokenData, val_windows
from .device import autocast, resolve_dtype, set_threads
from .evaluate import evaluate
from .models import ModelConfig, build_model
from .optim import make_optimizer
from .outcome import TrainResult, run_metrics
from .resources import check_fits, usable_cpus
from .runs import RunLock
from .schedule import TrainConfig, lr_at, momentum_at
from .timeline import Timeline

__all__ = ["TrainConfig", "TrainResult", "lr_at", "train", "want_compile"]


def train(data: TokenData, model_cfg: ModelConfig | None = None,
          train_cfg: TrainConfig | None = None, out_dir: str | Path | None = None,
          callback: Callable[[dict], None] | None = None, stop: Callable[[], bool] | None = None,
          resume: str | Path | None = None, progress: bool = True, info: dict | None = None,
          if_busy: str = "warn") -> TrainResult:
    """Train a model on prepared data for `train_cfg.budget_s` seconds of wall clock.

    `callback(record)` gets each history record as it is made (notebooks draw live curves with
    it); `stop()` returning True ends the run early, keeping the model (the Stop button).
    Ctrl-C does the same and marks the result "interrupted". `resume` continues a checkpoint
    folder's unfinished run with its remaining budget, optimizer and schedule state.
    `if_busy`, when another tinylm training runs here: "warn" (say so, go on), "wait" or "go".
    A checkpoint that cannot be written never ends the run: the result keeps the model and says
    why in `error`; `result.save(other_folder)` saves it elsewhere.
    """
    model_cfg = model_cfg or ModelConfig(vocab_size=data.vocab_size)
    train_cfg = train_cfg or TrainConfig()
    model_cfg.validate()
    train_cfg.validate()
    if model_cfg.vocab_size != data.vocab_size:
        raise ValueError(f"model vocab_size {model_cfg.vocab_size} differs from the tokenizer's "
                         f"{data.vocab_size}; set vocab_size=data.vocab_size")
    if model_cfg.doc_mask and data.eot_id != EOT_ID:
        raise ValueError(f"doc_mask needs <|endoftext|> at id {EOT_ID}, this tokenizer has it at "
                         f"{data.eot_id}; use tinylm's own tokenizer or set doc_mask=False")
    ranks = distributed.setup()
    windows = val_windows(data.val, model_cfg.context,
                          quick.eval_tokens(train_cfg.final_eval_tokens))
    batches = Batches(data.train, model_cfg.context, train_cfg.batch_size,
                      train_cfg.seed + ranks.rank, data.eot_id if train_cfg.story_starts else None)
    device = machine.device_for(train_cfg, measure=not ranks.active, progress=progress)
    if device.type == "cuda" and ranks.active:
        device = torch.device("cuda", ranks.local_rank)
    dtype = resolve_dtype(train_cfg.dtype, device)
    # head="auto" decided for this device, value_embeds="auto" for this budget
    model_cfg = model_cfg.for_device(device.type, dtype).for_budget(train_cfg.budget_s)
    threads = train_cfg.threads
    if threads is None and ranks.local_world > 1:  # share the cores, don't fight over them
        threads = max(1, usable_cpus() // ranks.local_world)
    threads = set_threads(threads)
    allocator.keep_freed_memory()  # each step's large buffers reused, not page-faulted in again
    torch.manual_seed(train_cfg.seed)
    check_fits(model_cfg, train_cfg.batch_size, device)
    if ranks.main:  # before the budget starts: waiting is not training time
        busy.check(if_busy)
    model = build_model(model_cfg).to(device)
    if hasattr(model.head, "set_order"):  # an adaptive head: which tokens are frequent here
        model.head.set_order(np.bincount(data.train, minlength=model_cfg.vocab_size))
    optimizer = make_optimizer(model, train_cfg)
    resumed = resume and checkpoint.restore_training(Path(resume), model, optimizer, batches)
    if not ranks.main:  # rank 0 alone saves, reports and shows progress
        out_dir, callback, progress = None, None, False
    loop = _Loop(model, optimizer, batches, windows, data.token_bytes, train_cfg, device, dtype,
                 ranks, resumed, callback, progress, data.tokenizer)
    info = {**(info or {}), "train_config": asdict(train_cfg), "data": data.meta}

    def save(status: str, metrics: dict | None = None) -> str:
        """Write a checkpoint; returns "" or why it could not be written (training goes on)."""
        state = None if status == "completed" else checkpoint.training_state(
            optimizer, batches, elapsed_s=loop.elapsed(), tokens=loop.tokens, step=loop.step,
            history=loop.history, timeline=loop.timeline.records)
        try:
            checkpoint.save(out_dir, model, data.tokenizer, {**info, "status": status}, metrics,
                            state)
        except checkpoint.SaveError as e:
            if status == "running" and not loop.save_failed:  # say it once, keep training
                print(f"tinylm: {e}; training goes on", file=sys.stderr)
            loop.save_failed = True
            return str(e)
        return ""

    lock = RunLock(out_dir) if out_dir is not None else None
    registration = busy.Registration(train_cfg.budget_s) if ranks.main else nullcontext()
    try:
        if lock:
            lock.acquire()
        with registration:
            status, message = loop.run(stop, save if out_dir is not None else None)
            train_seconds = loop.elapsed()
            if status != "diverged":  # a diverged run keeps its last good weights instead
                loop.end_on_average()
            t_eval = time.perf_counter()
            final = evaluate(model, windows, data.token_bytes, device, dtype)
            eval_seconds = time.perf_counter() - t_eval
        metrics = run_metrics(loop, final, data, threads, status, message, train_seconds,
                              eval_seconds)
        if callback:
            callback({"event": "end", **metrics})
        error = save(status, metrics) if out_dir is not None else ""
    finally:
        if lock:
            lock.release()
        allocator.give_back()
    out = Path(out_dir) if out_dir is not None and not error else None
    return TrainResult(model, metrics, status, message, out, loop.history, error, data.tokenizer,
                       info)


class _Loop:
    """The step loop and its bookkeeping, kept apart from setup and saving."""

    def __init__(self, model, optimizer, batches: Batches, windows: torch.Tensor, token_bytes,
                 cfg: TrainConfig, device, dtype, ranks, resumed: dict | None, callback, progress,
                 tokenizer=None):
        self.model, self.optimizer, self.batches, self.cfg = model, optimizer, batches, cfg
        self.device, self.dtype, self.ranks = device, dtype, ranks
        self.token_bytes, self.callback = token_bytes, callback
        n = max(1, min(len(windows), cfg.eval_tokens // (windows.shape[1] - 1)))
        self.eval_windows = windows[torch.linspace(0, len(windows) - 1, n).long()]  # spread out
        forward = DDP(model) if ranks.active else model

        def step_fn(x, y):  # model and loss as one graph when compiled
            with autocast(device, dtype):
                return forward(x, y)

        self.eager_fn = step_fn
        self.step_fn, self.compiled = compiling.compiled_or_eager(step_fn, cfg, device,
                                                                  ranks.active, ranks.main)
        self.compile_pending = self.compiled  # until the first compiled step has succeeded
        resumed = resumed or {}
        self.elapsed0 = resumed.get("elapsed_s", 0.0)  # seconds spent before a resume
        self.tokens = self.tokens0 = resumed.get("tokens", 0)
        self.step = resumed.get("step", 0)
        self.history: list[dict] = list(resumed.get("history", []))
        self.timeline = Timeline(cfg, tokenizer, resumed.get("timeline", []), self.elapsed0)
        self.losses: list[float] = []  # training losses since the last log record
        self.good = self._snapshot()  # weights of the last finite evaluation
        # the moving average of the weights (torch's own EMA); a resumed run restarts it
        self.average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay)) \
            if cfg.ema_decay else None
        self.start = time.perf_counter()
        self.first_step_s = self.max_step_s = self.max_eval_s = 0.0
        self.save_failed = False  # a periodic checkpoint could not be written
        self.bar = tqdm(total=round(cfg.budget_s), unit="s", disable=not progress,
                        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s [{remaining} left{postfix}]")

    def elapsed(self) -> float:
        return self.elapsed0 + time.perf_counter() - self.start

    def run(self, stop, save) -> tuple[str, str]:
        """Step until the budget (or `steps`) is spent; returns (status, message)."""
        cfg = self.cfg
        log_every, eval_every = cfg.budget_s / 200, cfg.budget_s * cfg.eval_every_frac
        next_log, next_eval = self.elapsed0 + log_every, self.elapsed0 + eval_every
        next_save = self.elapsed0 + cfg.budget_s * cfg.checkpoint_every_frac
        status, message = "completed", ""
        self.start = time.perf_counter()
        try:
            while True:
                now, stopping = distributed.agree(self.ranks, self.elapsed(),
                                                  stop is not None and stop())
                if now >= cfg.budget_s or (cfg.steps is not None and self.step >= cfg.steps):
                    self.start += self.timeline.record(self, float("inf"))  # the final weights
                    break
                if stopping:
                    status = "stopped"
                    break
                t_iter = time.perf_counter()
                frac = self.step / cfg.steps if cfg.steps else now / cfg.budget_s
                lr = lr_at(cfg, frac)
                loss = self._train_step(lr, momentum_at(cfg, frac))
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
                    next_eval += eval_every if now >= next_eval else 0
                if self.timeline.due(now):  # the clock stands still while it writes
                    self.start += self.timeline.record(self, now)
                if save is not None and now >= next_save:
                    save("running")
                    next_save += cfg.budget_s * cfg.checkpoint_every_frac
                iter_s = time.perf_counter() - t_iter
                if self.step == 1:
                    self.first_step_s = iter_s  # includes compiling
                else:
                    self.max_step_s = max(self.max_step_s, iter_s)
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted: kept the model trained so far"
        finally:
            self.bar.n = min(round(self.elapsed()), self.bar.total)
            self.bar.close()
        return status, message

    def _train_step(self, lr: float, momentum: float) -> float:
        """One optimizer step at learning rate `lr` (and Muon's `momentum`); returns the loss
        (not applied if not finite). The first compiled step falls back to eager if compiling
        fails anywhere in it."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
            if "momentum" in group:  # Muon's groups; AdamW's have betas
                group["momentum"] = momentum
        x, y = self.batches.next()
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.compile_pending:
            self.bar.set_postfix_str("compiling the model (first step only)", refresh=True)
        try:
            loss = self.step_fn(x, y)
            value = loss.item()
            if math.isfinite(value):
                loss.backward()
        except Exception as e:  # no working compiler, an unsupported op...: train eager
            if not self.compile_pending:
                raise
            print(f"tinylm: {compiling.remember_failure(e)}", file=sys.stderr)
            self.optimizer.zero_grad(set_to_none=True)
            self.step_fn, self.compiled, self.compile_pending = self.eager_fn, False, False
            return self._train_step(lr, momentum)
        self.compile_pending = False
        if not math.isfinite(value):
            return value
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.average is not None:
            self.average.update_parameters(self.model)
        self.step += 1
        self.tokens += x.numel() * self.ranks.world
        self.losses.append(value)
        return value

    def end_on_average(self) -> None:
        """Put the moving average (if kept) into the model: it is what is evaluated and saved."""
        if self.average is not None and self.average.n_averaged > 0:
            with torch.no_grad():
                for weight, averaged in zip(self.model.parameters(),
                                            self.average.module.parameters(), strict=True):
                    weight.copy_(averaged)

    def _snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

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
        rate = (self.tokens - self.tokens0) / max(now - self.elapsed0, 1e-9)
        self.bar.set_postfix_str(f"loss {record['train_loss']:.3f}, {rate:,.0f} tok/s",
                                 refresh=True)
