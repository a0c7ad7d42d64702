"""The training loop: step until the budget is spent, log, validate, keep the last good weights.

Everything that prepares a run (device, compile choice, threads, the lock, resuming) happens
before this, in `tinylm.runs.train`; the loop gets a model, an optimizer, batches and a
resolved `TrainConfig`, and reads like nanoGPT's. The learning rate follows the elapsed
fraction of the budget (`schedule.lr_at`), so a run ends annealed whatever the hardware does
per second.
"""

from __future__ import annotations

import math
import sys
import time

import torch
from tqdm.auto import tqdm

from tinylm.core.evaluate import evaluate
from tinylm.core.schedule import TrainConfig, batch_shape, lr_at, teacher_weight
from tinylm.core.timeline import Timeline
from tinylm.machine import compiling, distributed
from tinylm.machine.device import autocast


class Loop:
    """The step loop and its bookkeeping. `step_fn(x, y)` returns the loss (compiled or not);
    `eager_fn` is the same uncompiled, for a first compiled step that fails."""

    def __init__(self, model, optimizer, batches, eval_windows, token_bytes, cfg: TrainConfig,
                 device, dtype, ranks, resumed: dict | None = None, callback=None,
                 progress: bool = True, tokenizer=None, forward=None):
        self.model, self.optimizer, self.batches, self.cfg = model, optimizer, batches, cfg
        self.device, self.dtype, self.ranks, self.callback = device, dtype, ranks, callback
        self.eval_windows, self.token_bytes = eval_windows, token_bytes
        forward = forward or model  # a DistributedDataParallel wrapper when there are ranks

        def step_fn(x, y):  # model and loss as one graph when compiled
            with autocast(device, dtype):
                return forward(x, y)

        self.eager_fn = step_fn
        self.step_fn, self.compiled = compiling.compiled_or_eager(step_fn, cfg.compile == "on")
        self.compile_pending = self.compiled  # until the first compiled step has succeeded
        resumed = resumed or {}
        self.elapsed0 = resumed.get("elapsed_s", 0.0)  # seconds spent before a resume
        self.tokens = self.tokens0 = resumed.get("tokens", 0)
        self.step = resumed.get("step", 0)
        self.history: list[dict] = list(resumed.get("history", []))
        self.timeline = Timeline(cfg, tokenizer, resumed.get("timeline", []), self.elapsed0)
        self.losses: list[float] = []  # training losses since the last log record
        self.good = self._snapshot()  # weights of the last finite evaluation
        self.start = time.perf_counter()
        self.first_step_s = self.max_step_s = self.max_eval_s = 0.0
        self.save_failed = False  # a periodic checkpoint could not be written
        self.bar = tqdm(total=round(cfg.budget_s), unit="s", disable=not progress,
                        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}s [{remaining} left{postfix}]")

    def elapsed(self) -> float:
        return self.elapsed0 + time.perf_counter() - self.start

    def run(self, stop=None, save=None) -> tuple[str, str]:
        """Step until the budget (or `steps`) is spent; returns (status, message). `stop()`
        True ends it early; `save(loop, "running")` writes a periodic checkpoint and returns
        why it could not (said once; training goes on)."""
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
                loss = self.train_step(lr, frac)
                if not math.isfinite(loss):
                    self.model.load_state_dict(self.good)
                    status = "diverged"
                    message = (f"loss became {loss} at step {self.step} (lr {lr:.2e}): the "
                               f"learning rate is probably too high; try lr={cfg.lr / 3:.1e}. "
                               "Kept the weights of the last good evaluation")
                    break
                now = self.elapsed()
                if now >= next_log or now >= next_eval:
                    self.log(now, lr, evaluate_now=now >= next_eval)
                    next_log = now + log_every
                    next_eval += eval_every if now >= next_eval else 0
                if self.timeline.due(now):  # the clock stands still while it writes
                    self.start += self.timeline.record(self, now)
                if save is not None and now >= next_save:
                    error = save(self, "running")
                    if error and not self.save_failed:
                        print(f"tinylm: {error}; training goes on", file=sys.stderr)
                    self.save_failed = self.save_failed or bool(error)
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

    def train_step(self, lr: float, frac: float = 1.0) -> float:
        """One optimizer step at learning rate `lr`, `frac` of the way through the run; returns
        the loss (not applied if not finite). The first compiled step falls back to eager if
        compiling fails anywhere in it."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        x, y = self.batches.next(*batch_shape(self.cfg, frac, self.batches.context))
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.compile_pending:
            self.bar.set_postfix_str("compiling the model (first step only)", refresh=True)
        teach = teacher_weight(self.cfg, frac) if getattr(self.model, "ngram", None) is not None \
            and not self.ranks.active else 0.0
        try:
            loss = self.teacher_loss(x, y, teach) if teach else self.step_fn(x, y)
            value = loss.item()
            if math.isfinite(value):
                loss.backward()
        except Exception as e:  # no working compiler, an unsupported op...: train eager
            if not self.compile_pending:
                raise
            print(f"tinylm: {compiling.remember_failure(e)}", file=sys.stderr)
            self.optimizer.zero_grad(set_to_none=True)
            self.step_fn, self.compiled, self.compile_pending = self.eager_fn, False, False
            return self.train_step(lr)
        self.compile_pending = False
        if not math.isfinite(value):
            return value
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += x.numel() * self.ranks.world
        self.losses.append(value)
        return value

    def teacher_loss(self, x, y, weight: float) -> torch.Tensor:
        """The network's loss plus `weight` times its KL divergence from the n-gram memory's
        prediction (eager, one process: the memory is counted, its weights not fitted yet)."""
        with autocast(self.device, self.dtype):
            logprobs = torch.log_softmax(self.model(x).float(), dim=-1)
        with torch.no_grad():
            teacher, _ = self.model.ngram.probs(x)
        nll = torch.nn.functional.nll_loss(logprobs.flatten(0, 1), y.flatten())
        return nll + weight * (teacher * (teacher.log() - logprobs)).sum(-1).mean()

    def _snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def log(self, now: float, lr: float, evaluate_now: bool) -> None:
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
