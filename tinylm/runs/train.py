"""`train`: prepare a run for this machine, then hand it to the loop (`tinylm.core.loop`).

The budget covers the training loop from its first step, periodic evaluations and compile
time included; data preparation and the final evaluation are reported separately. Everything
the loop should not have to think about happens here, in order: the spec is resolved (every
"auto" made concrete, the device measured once per machine), threads and the allocator are
set, memory is checked, another training on this machine is waited for or reported, the run
folder is locked and an unfinished run is resumed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from tinylm.core import checkpoint, quick
from tinylm.core.corpus import EOT_ID
from tinylm.core.data import Batches, TokenData, val_windows
from tinylm.core.evaluate import evaluate
from tinylm.core.loop import Loop
from tinylm.core.models import ModelConfig, build_model, ngram
from tinylm.core.optim import make_optimizer
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import RunSpec, resolve
from tinylm.machine import allocator, busy, distributed
from tinylm.machine.device import autocast, set_threads
from tinylm.runs.folders import RunLock
from tinylm.runs.result import TrainResult, run_metrics
from tinylm.tuning import probe
from tinylm.tuning.fit import check_fits

__all__ = ["TrainConfig", "TrainResult", "train"]


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
    asked = RunSpec(model=model_cfg or ModelConfig(vocab_size=data.vocab_size),
                    train=train_cfg or TrainConfig()).validate()
    _check_data(asked.model, data)
    ranks = distributed.setup()
    run = resolve(asked, lambda t: probe.device_for(t, measure=not ranks.active,
                                                    progress=progress), ranks.local_world)
    model_cfg, cfg, device = run.spec.model, run.spec.train, run.device
    if device.type == "cuda" and ranks.active:
        device = torch.device("cuda", ranks.local_rank)
    if run.compile_notice and ranks.main:
        print(f"tinylm: {run.compile_notice}", file=sys.stderr)
    threads = set_threads(run.threads)
    allocator.keep_freed_memory()  # each step's large buffers reused, not page-faulted in again
    torch.manual_seed(cfg.seed)
    check_fits(model_cfg, cfg.batch_size, device)
    if ranks.main:  # before the budget starts: waiting is not training time
        busy.check(if_busy)
    windows = val_windows(data.val, model_cfg.context, quick.eval_tokens(cfg.final_eval_tokens))
    tokens, held = ngram.split_held_out(data.train) if model_cfg.ngram_order else (data.train, None)
    batches = Batches(tokens, model_cfg.context, cfg.batch_size, cfg.seed + ranks.rank)
    model = build_model(model_cfg).to(device)
    if hasattr(model.head, "set_order"):  # an adaptive head: which tokens are frequent here
        model.head.set_order(np.bincount(data.train, minlength=model_cfg.vocab_size))
    optimizer = make_optimizer(model, cfg)
    memory_s = 0.0
    if model_cfg.ngram_order:  # counted within the budget (a resumed run counts again: the
        started = time.perf_counter()  # same text, the same tables, the same accounting)
        model.ngram = ngram.NGramMemory.count(tokens, model_cfg.vocab_size,
                                              model_cfg.ngram_order).to(device)
        memory_s = time.perf_counter() - started
        cfg = replace(cfg, budget_s=max(cfg.budget_s - memory_s - ngram.FIT_RESERVE_S,
                                        cfg.budget_s / 2))
    resumed = resume and checkpoint.restore_training(Path(resume), model, optimizer, batches)
    if not ranks.main:  # rank 0 alone saves, reports and shows progress
        out_dir, callback, progress = None, None, False
    loop = Loop(model, optimizer, batches, _spread(windows, cfg), data.token_bytes, cfg, device,
                run.dtype, ranks, resumed, callback, progress, data.tokenizer,
                _ddp(model) if ranks.active else model)
    info = {**(info or {}), "train_config": asdict(asked.train), "data": data.meta}
    saving = partial(save_checkpoint, out_dir, data.tokenizer, info) if out_dir is not None \
        else None
    lock = RunLock(out_dir) if out_dir is not None else None
    registration = busy.Registration(cfg.budget_s) if ranks.main else nullcontext()
    error = ""
    try:
        if lock:
            lock.acquire()
        with registration:
            status, message = loop.run(stop, saving)
            train_seconds = loop.elapsed()
            if held is not None:
                started = time.perf_counter()
                ngram.fit_on(model, held, device, autocast(device, run.dtype))
                memory_s += time.perf_counter() - started
            t_eval = time.perf_counter()
            final = evaluate(model, windows, data.token_bytes, device, run.dtype)
            eval_seconds = time.perf_counter() - t_eval
        metrics = run_metrics(loop, final, data, threads, status, message, train_seconds,
                              eval_seconds, probe.record(asked.train, device,
                                                         run.device_how))
        if model_cfg.ngram_order:  # its counting and fitting were spent from the budget
            metrics.update(budget_s=asked.train.budget_s, ngram_seconds=memory_s,
                           ngram_mb=model.ngram.nbytes() / 1e6, ngram_mix=model.ngram.mix.tolist())
        if callback:
            callback({"event": "end", **metrics})
        error = saving(loop, status, metrics) if saving else ""
    finally:
        if lock:
            lock.release()
        allocator.give_back()
    out = Path(out_dir) if out_dir is not None and not error else None
    return TrainResult(model, metrics, status, message, out, loop.history, error, data.tokenizer,
                       info)



def _ddp(model):
    """`model` for DistributedDataParallel; every rank counts the same text, so the n-gram
    memory's tables (int16 among them, which gloo cannot broadcast) are left out of its syncs."""
    if getattr(model, "ngram", None) is not None:
        DDP._set_params_and_buffers_to_ignore_for_model(
            model, [f"ngram.{name}" for name, _ in model.ngram.named_buffers()])
    return DDP(model)

def save_checkpoint(out_dir: str | Path, tokenizer, info: dict, loop: Loop, status: str,
                    metrics: dict | None = None) -> str:
    """Write the run's checkpoint (with its resume state unless it is complete); returns "" or
    why it could not be written: a full disk never ends a run."""
    state = None if status == "completed" else checkpoint.training_state(
        loop.optimizer, loop.batches, elapsed_s=loop.elapsed(), tokens=loop.tokens,
        step=loop.step, history=loop.history, timeline=loop.timeline.records)
    try:
        checkpoint.save(out_dir, loop.model, tokenizer, {**info, "status": status}, metrics, state)
    except checkpoint.SaveError as e:
        return str(e)
    return ""


def _check_data(model_cfg: ModelConfig, data: TokenData) -> None:
    if model_cfg.vocab_size != data.vocab_size:
        raise ValueError(f"model vocab_size {model_cfg.vocab_size} differs from the tokenizer's "
                         f"{data.vocab_size}; set vocab_size=data.vocab_size")
    if model_cfg.doc_mask and data.eot_id != EOT_ID:
        raise ValueError(f"doc_mask needs <|endoftext|> at id {EOT_ID}, this tokenizer has it at "
                         f"{data.eot_id}; use tinylm's own tokenizer or set doc_mask=False")


def _spread(windows: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The periodic validation's fixed sample: `eval_tokens` worth of windows, spread out."""
    n = max(1, min(len(windows), cfg.eval_tokens // (windows.shape[1] - 1)))
    return windows[torch.linspace(0, len(windows) - 1, n).long()]
