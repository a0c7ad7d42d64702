"""Notebook panels: train a model and sample from it with sliders and buttons, no code to read.

A chapter shows one line, `tinylm.widgets.training_panel()` or `tinylm.widgets.sampling_panel()`;
everything a student touches lives here, where it is tested (tests/test_widgets.py drives the
Python side, tests/test_browser.py clicks through JupyterLab in Chromium).

Why it is built this way:
- Training runs in a background thread. A widget click is a message the kernel handles only
  when no cell is running; with the cell finished at once, the Stop button works mid-run.
- Plots are PNG bytes in an `ipywidgets.Image`, drawn on matplotlib's Agg canvas without pyplot:
  this works without ipympl, from any thread, and the built book embeds the picture.
- Parameter counts are exact (the real model built on PyTorch's "meta" device, which allocates
  nothing), so labels follow a dragged slider. Speed is measured once per kernel on this machine
  and scaled by training FLOPs to other shapes; every finished run adds its real speed.
- Losses are drawn in bits per byte: curves of different vocabularies and corpora compare.
"""

from __future__ import annotations

import csv
import html
import io
import math
import threading
import time
import urllib.parse
from dataclasses import fields
from pathlib import Path

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import quick
from .calibrate import measure_throughput
from .checkpoint import load
from .data import DataConfig, TokenData, prepare
from .models import ModelConfig, param_count, train_flops_per_token
from .resources import available_bytes, estimate_bytes
from .sample import stream
from .train import TrainConfig, TrainResult, train

__all__ = ["SamplingPanel", "TrainingPanel", "sampling_panel", "training_panel"]

CONTEXTS = (32, 64, 128, 256, 512)
VOCABS = (("256 (bytes)", 256), ("512", 512), ("1024", 1024), ("2048", 2048), ("4096", 4096),
          ("8192", 8192))
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
CORPORA = ("tinystories", "simplewiki")
PROMPTS = {"tinystories": "Once upon a time", "simplewiki": "The"}
BUDGET_MAX_S = 300
DRAW_EVERY_S = 1.0  # redraw the live plot at most this often: drawing steals time from training
CURVES_SHOWN = 4  # earlier runs drawn in grey behind the current one
RESULT_COLUMNS = ("run", "corpus", "vocab", "width", "layers", "heads", "context", "batch_size",
                  "lr", "budget_s", "train_s", "tokens", "params", "val_bpb", "val_ppl", "status")

# Kernel-wide state: the newest trained model (for sampling_panel() with no model), measured
# speeds, prepared data, and one training at a time (two would share the same CPU cores).
_LATEST: dict = {}
_SPEED: dict[tuple, tuple[float, float]] = {}  # shape -> (tokens/s, training FLOPs per token)
_DATA: dict[tuple, TokenData] = {}
_TRAINING = threading.Lock()


def training_panel(**defaults) -> TrainingPanel:
    """Sliders for a model and its training, a Train and a Stop button, live curves, results.

    Keywords set the starting values (width, layers, heads, context, vocab, lr, batch_size,
    corpus, budget in seconds, prompt); other `ModelConfig`/`TrainConfig` fields (mlp="swiglu",
    compile="on", ...) are passed through unchanged.
    """
    return TrainingPanel(**defaults)


def sampling_panel(model=None, tokenizer=None, checkpoint=None, **defaults) -> SamplingPanel:
    """Prompt, temperature, top-k, top-p, length, seed and Generate for a trained model.

    With no model and no checkpoint it uses the newest model trained by a training panel in
    this kernel, looked up at each Generate (so it can be shown before anything is trained).
    """
    return SamplingPanel(model=model, tokenizer=tokenizer, checkpoint=checkpoint, **defaults)


# --- numbers shown next to the sliders ------------------------------------------------------

count_params = param_count


def _shape(cfg: ModelConfig, batch_size: int) -> tuple:
    return cfg.width, cfg.layers, cfg.heads, cfg.context, cfg.vocab_size, batch_size


def remember_speed(cfg: ModelConfig, batch_size: int, tokens_per_s: float) -> None:
    """Record a measured training speed; later estimates scale from the closest one."""
    if tokens_per_s > 0 and math.isfinite(tokens_per_s):
        _SPEED[_shape(cfg, batch_size)] = (tokens_per_s, train_flops_per_token(cfg))


def expected_tokens_per_s(cfg: ModelConfig, batch_size: int) -> tuple[float, bool] | None:
    """(tokens/s, measured exactly?) from this kernel's measurements; None before any.

    Scales the measurement closest in FLOPs and batch size by the FLOPs ratio: rough for tiny
    models (overhead-bound), which is why the label says "about".
    """
    if _shape(cfg, batch_size) in _SPEED:
        return _SPEED[_shape(cfg, batch_size)][0], True
    if not _SPEED:
        return None
    flops = train_flops_per_token(cfg)

    def distance(item):
        (*_, b), (_, f) = item
        return abs(math.log(f / flops)) + 0.5 * abs(math.log(b / batch_size))

    _, (tps, ref_flops) = min(_SPEED.items(), key=distance)
    return tps * ref_flops / flops, False


def measure_speed(cfg: ModelConfig, batch_size: int, seconds: float | None = None) -> None:
    """Measure this machine once per kernel (a second of training steps on random tokens)."""
    if _SPEED:
        return
    seconds = seconds if seconds is not None else (0.3 if quick.is_quick() else 1.0)
    try:
        speed = measure_throughput(cfg, batch_size, seconds=seconds)["tokens_per_s"]
    except Exception:  # an estimate is a nicety: never let it break the panel
        return
    remember_speed(cfg, batch_size, speed)


def _prepare(corpus: str, vocab: int) -> TokenData:
    """Token data kept in memory: a second run on the same corpus starts at once."""
    key = (corpus, vocab, quick.data_cap())
    if key not in _DATA:
        _DATA[key] = prepare(DataConfig(corpus=corpus, vocab_size=vocab,
                                        max_train_bytes=quick.data_cap()), progress=False)
    return _DATA[key]


def _bytes_per_token(data: TokenData) -> float:
    """Average UTF-8 bytes per training token, to draw losses in bits per byte."""
    sample = np.asarray(data.train[:1_000_000], dtype=np.int64)
    return float(data.token_bytes[sample].mean()) if len(sample) else 1.0


def _human(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def _bytes(n: float) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def _red(text: str) -> str:
    return f"<span style='color:#c62828'>{html.escape(text)}</span>"


# --- plots ----------------------------------------------------------------------------------

def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def loss_png(records: list[dict], bytes_per_token: float, earlier=(), budget_s=None) -> bytes:
    """The live plot: this run's training (line) and validation (dots) loss in bits per byte,
    earlier runs in grey behind it."""
    fig = Figure(figsize=(6.4, 3.0), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    to_bpb = 1 / (math.log(2) * max(bytes_per_token, 1e-9))
    for label, xs, ys in earlier:
        ax.plot(xs, ys, color="0.78", lw=1)
        if xs:
            ax.annotate(label, (xs[-1], ys[-1]), fontsize=7, color="0.5")
    if records:
        ax.plot([r["elapsed_s"] for r in records], [r["train_loss"] * to_bpb for r in records],
                color="C0", lw=1.5, label="training")
        val = [r for r in records if "val_bpb" in r]
        if val:
            ax.plot([r["elapsed_s"] for r in val], [r["val_bpb"] for r in val], "o",
                    color="C1", ms=4, label="validation")
        ax.legend(loc="upper right", fontsize=8)
    elif not earlier:
        ax.text(0.5, 0.5, "Press Train to draw the loss curve", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    if budget_s:
        ax.set_xlim(0, max(budget_s, *(xs[-1] for _, xs, _ in earlier if xs), 1))
    ax.set_xlabel("seconds of training")
    ax.set_ylabel("loss (bits per byte)")
    ax.grid(alpha=0.3)
    return _png(fig)


def results_png(rows: list[dict], last: int = 10) -> bytes:
    """Bar chart of the last runs' validation bits per byte (lower is better)."""
    rows = rows[-last:]
    fig = Figure(figsize=(6.4, 2.2), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    labels = [f"#{r['run']}\nd{r['width']}×{r['layers']}" for r in rows]
    values = [r["val_bpb"] for r in rows]
    best = min(range(len(values)), key=values.__getitem__) if values else -1
    ax.bar(labels, values, color=["C2" if i == best else "C0" for i in range(len(values))])
    for i, v in enumerate(values):
        ax.annotate(f"{v:.3f}", (i, v), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("val bits/byte\n(lower is better)", fontsize=8)
    ax.tick_params(labelsize=7)
    return _png(fig)


# --- the training panel ---------------------------------------------------------------------

_MODEL_KEYS = {f.name for f in fields(ModelConfig)} - {"vocab_size", "context", "width", "layers",
                                                        "heads"}
_TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - {"budget_s", "lr", "batch_size"}


class TrainingPanel(W.VBox):
    """The chapter-3 panel; attributes are the controls, so tests and notebooks can drive it."""

    # Starting values are tinylm's current recipe, so the panel follows improvements to it.
    def __init__(self, *, width: int = ModelConfig.width, layers: int = ModelConfig.layers,
                 heads: int = ModelConfig.heads, context: int = ModelConfig.context,
                 vocab: int = DataConfig.vocab_size, lr: float = TrainConfig.lr,
                 batch_size: int = TrainConfig.batch_size, corpus: str = DataConfig.corpus,
                 budget: float | None = None, prompt: str | None = None, sample_tokens: int = 120,
                 calibrate_speed: bool = True, **options):
        unknown = set(options) - _MODEL_KEYS - _TRAIN_KEYS
        if unknown:
            raise TypeError(f"training_panel() got unknown settings {sorted(unknown)}; it takes "
                            "width, layers, heads, context, vocab, lr, batch_size, corpus, budget, "
                            "prompt, and ModelConfig/TrainConfig fields")
        self.model_options = {k: v for k, v in options.items() if k in _MODEL_KEYS}
        # Eager by default: a compiled first step stalls the curve for ~10 s. A short final
        # evaluation keeps the round trip from Train to a sample short; runs stay comparable.
        self.train_options = {"compile": "off",
                              "final_eval_tokens": 16_384 if quick.is_quick() else 65_536,
                              **{k: v for k, v in options.items() if k in _TRAIN_KEYS}}
        self.prompt, self.sample_tokens = prompt, sample_tokens
        budget = max(1, round(quick.budget(30) if budget is None else budget))
        box = {"style": {"description_width": "8.5em"}, "layout": W.Layout(width="24em")}

        self.width = W.IntSlider(value=width, min=min(16, width), max=max(512, width), step=16,
                                 description="width", **box)
        self.layers = W.IntSlider(value=layers, min=1, max=max(12, layers), description="layers",
                                  **box)
        self.heads = W.IntSlider(value=heads, min=1, max=max(16, heads), description="heads", **box)
        self.context = W.SelectionSlider(options=sorted({*CONTEXTS, context}), value=context,
                                         description="context (tokens)", **box)
        vocabs = dict(VOCABS) if vocab in dict(VOCABS).values() else {**dict(VOCABS), str(vocab): vocab}
        self.vocab = W.Dropdown(options=list(vocabs.items()), value=vocab, description="vocabulary",
                                **box)
        self.corpus = W.Dropdown(options=list(dict.fromkeys([*CORPORA, corpus])), value=corpus,
                                 description="corpus", **box)
        self.lr = W.FloatLogSlider(value=lr, base=10, min=-4, max=-1.3, step=0.05,
                                   readout_format=".1e", description="learning rate", **box)
        self.batch_size = W.SelectionSlider(options=sorted({*BATCH_SIZES, batch_size}),
                                            value=batch_size, description="batch size", **box)
        self.budget = W.IntSlider(value=budget, min=min(10, round(quick.budget(10)), budget),
                                  max=max(BUDGET_MAX_S, budget), description="time budget (s)", **box)
        self.heads_warning = W.HTML()
        self.params_label, self.memory_label, self.tokens_label = W.HTML(), W.HTML(), W.HTML()
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop",
                                    disabled=True)
        self.progress = W.FloatProgress(value=0, min=0, max=1, layout=W.Layout(width="20em"))
        self.status = W.HTML("Move the sliders, then press <b>Train</b>.")
        self.plot = W.Image(format="png", layout=W.Layout(max_width="640px"))
        self.metrics_label, self.sample_output = W.HTML(), W.HTML()
        self.results_table, self.csv_link = W.HTML(), W.HTML()
        self.results_plot = W.Image(format="png", layout=W.Layout(max_width="640px",
                                                                  display="none"))
        self.export_button = W.Button(description="Save CSV", icon="download", disabled=True,
                                      tooltip="Write tinylm-runs.csv next to the notebook")

        self.results: list[dict] = []  # one row per finished run (RESULT_COLUMNS)
        self.records: list[dict] = []  # this run's log records
        self.result: TrainResult | None = None
        self.model = self.tokenizer = None
        self._curves: list[tuple[str, list, list]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bpt = 4.0
        self._last_draw = 0.0

        for name in ("width", "layers", "heads", "context", "vocab", "corpus", "lr", "batch_size",
                     "budget", "params_label", "memory_label", "tokens_label", "heads_warning",
                     "train_button", "stop_button", "progress", "status", "plot", "metrics_label",
                     "sample_output", "results_table", "results_plot", "csv_link", "export_button"):
            getattr(self, name).add_class(f"tinylm-{name.replace('_', '-')}")
        for control in (self.width, self.layers, self.heads, self.context, self.vocab,
                        self.batch_size, self.budget):
            control.observe(self._update_info, names="value")
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(lambda _: self._stop.set())
        self.export_button.on_click(lambda _: self.save_csv())

        self.heads_warning.layout = W.Layout(max_width="24em")
        model_box = W.VBox([W.HTML("<b>Model</b>"), self.width, self.layers, self.heads,
                            self.heads_warning, self.context, self.vocab])
        train_box = W.VBox([W.HTML("<b>Training</b>"), self.corpus, self.lr, self.batch_size,
                            self.budget])
        info = W.VBox([self.params_label, self.memory_label, self.tokens_label])
        super().__init__([
            W.HBox([model_box, train_box]), info,
            W.HBox([self.train_button, self.stop_button, self.progress]), self.status,
            self.plot, self.metrics_label, self.sample_output,
            W.HTML("<b>Your runs</b>"), self.results_table, self.results_plot,
            W.HBox([self.export_button, self.csv_link]),
        ])
        self.add_class("tinylm-training-panel")
        self.plot.value = loss_png([], self._bpt, budget_s=self.budget.value)
        if calibrate_speed:
            cfg = self.model_config()
            if self.problem() is None:
                measure_speed(cfg, self.batch_size.value)
        self._update_info()

    # what the controls say

    def settings(self) -> dict:
        return {"corpus": self.corpus.value, "vocab": self.vocab.value, "width": self.width.value,
                "layers": self.layers.value, "heads": self.heads.value,
                "context": self.context.value, "batch_size": self.batch_size.value,
                "lr": self.lr.value, "budget_s": float(self.budget.value)}

    def model_config(self, vocab_size: int | None = None) -> ModelConfig:
        """The model the sliders describe (the tokenizer's count includes end-of-text; plain
        bytes need one more: 257)."""
        return ModelConfig(vocab_size=vocab_size or max(self.vocab.value, 257),
                           context=self.context.value,
                           width=self.width.value, layers=self.layers.value,
                           heads=self.heads.value, **self.model_options)

    def problem(self) -> str | None:
        """Why these settings cannot train, in one line; None if they can."""
        try:
            self.model_config().validate()
        except ValueError as e:
            return str(e)
        need = estimate_bytes(self.model_config(), self.batch_size.value)["total"]
        have = available_bytes(torch.device("cpu"))
        if have is not None and need > 0.8 * have:
            return (f"needs about {_bytes(need)} of memory but {_bytes(have)} is available: "
                    "lower width, layers, context or batch size")
        return None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _update_info(self, change=None) -> None:
        """Refresh parameter count, memory and expected tokens; flag impossible settings."""
        problem = self.problem()
        self.train_button.disabled = problem is not None or self.running
        cfg = self.model_config()
        try:
            cfg.validate()
        except ValueError as e:
            self.heads_warning.value = _red(f"✗ {e}")
            self.heads.style.handle_color = "#c62828"
            self.params_label.value = "parameters: — (see the message under heads)"
            self.memory_label.value = self.tokens_label.value = ""
            return
        self.heads_warning.value = ""
        self.heads.style.handle_color = None
        n = count_params(cfg)
        embed = cfg.vocab_size * cfg.width
        self.params_label.value = (f"<b>{n:,}</b> parameters ({_human(n)}; {_human(embed)} of them "
                                   f"in the token embedding)")
        need = estimate_bytes(cfg, self.batch_size.value)["total"]
        have = available_bytes(torch.device("cpu"))
        memory = f"memory for training: about {_bytes(need)}"
        if have is not None:
            memory += f" of {_bytes(have)} available"
        self.memory_label.value = _red(memory + ": too big, " + problem.split(": ")[-1]) \
            if problem else memory
        speed = expected_tokens_per_s(cfg, self.batch_size.value)
        budget = self.budget.value
        if speed is None:
            self.tokens_label.value = f"tokens in {budget} s: unknown (speed not measured)"
            return
        tps, exact = speed
        steps = tps * budget / (self.batch_size.value * cfg.context)
        how = "measured" if exact else "estimated"
        self.tokens_label.value = (f"expect about <b>{_human(tps * budget)} tokens</b> in {budget} s "
                                   f"on this machine ({_human(tps)} tokens/s {how}; about "
                                   f"{_human(steps)} optimizer steps)")

    # training

    def _on_train(self, _=None) -> None:
        if self.running:
            return
        problem = self.problem()
        if problem:
            self._say(problem, error=True)
            return
        if not _TRAINING.acquire(blocking=False):
            self._say("another training panel is training: stop it or wait for it", error=True)
            return
        self._stop.clear()
        self.records = []
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.progress.max, self.progress.value = self.budget.value, 0
        self.progress.bar_style = ""
        self.metrics_label.value = self.sample_output.value = ""
        try:
            self._thread = threading.Thread(target=self._run, args=(self.settings(),),
                                            name="tinylm-training", daemon=True)
            self._thread.start()
        except BaseException:
            _TRAINING.release()
            raise

    def stop(self) -> None:
        """End the run early; the model trained so far is kept (same as the Stop button)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> TrainResult | None:
        """Block until the current run has finished; its result (None if it failed)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = _red(text) if error else html.escape(text)

    def _run(self, s: dict) -> None:
        started = time.perf_counter()
        try:
            self._say(f"Preparing {s['corpus']} with a {s['vocab']}-token vocabulary…")
            data = _prepare(s["corpus"], s["vocab"])
            self._bpt = _bytes_per_token(data)
            cfg = self.model_config(data.vocab_size)
            tcfg = TrainConfig(budget_s=s["budget_s"], lr=s["lr"], batch_size=s["batch_size"],
                               **self.train_options)
            self._say("Training…")
            self._last_draw = 0.0
            result = train(data, cfg, tcfg, callback=self._on_record, stop=self._stop.is_set,
                           progress=False)
            self._say("Writing a sample story…")
            prompt = self.prompt if self.prompt is not None else PROMPTS.get(s["corpus"], "The")
            story = prompt + "".join(stream(result.model, data.tokenizer, prompt, seed=0,
                                            max_new_tokens=self.sample_tokens, temperature=0.8))
            self._finish(s, cfg, data, result, prompt, story, time.perf_counter() - started)
        except Exception as e:  # shown in the panel: a student reads it, not a traceback
            self.progress.bar_style = "danger"
            self._say(f"Training failed: {type(e).__name__}: {e}", error=True)
        finally:
            self.stop_button.disabled = True
            self.train_button.disabled = self.problem() is not None
            _TRAINING.release()

    def _on_record(self, record: dict) -> None:
        """Trainer callback (training thread): keep the record, redraw now and then."""
        if record.get("event") != "log":
            return
        self.records.append(record)
        now = time.perf_counter()
        if now - self._last_draw < DRAW_EVERY_S:
            return
        self._last_draw = now
        self.progress.value = min(record["elapsed_s"], self.progress.max)
        loss = record["train_loss"] / (math.log(2) * self._bpt)
        self._say(f"Training: {record['elapsed_s']:.0f} of {self.progress.max:.0f} s, "
                  f"{record['tokens']:,} tokens, loss {loss:.2f} bits per byte")
        self._draw()

    def _draw(self) -> None:
        self.plot.value = loss_png(self.records, self._bpt, self._curves[-CURVES_SHOWN:],
                                   self.progress.max)

    def _finish(self, s, cfg, data, result, prompt, story, round_trip_s) -> None:
        m = result.metrics
        self.result, self.model, self.tokenizer = result, result.model, data.tokenizer
        if result.status == "completed" and m["train_seconds"] >= 3:
            remember_speed(cfg, s["batch_size"], m["tokens_per_s"])
        run = (self.results[-1]["run"] + 1) if self.results else 1
        row = {"run": run, "corpus": s["corpus"], "vocab": s["vocab"], "width": cfg.width,
               "layers": cfg.layers, "heads": cfg.heads, "context": cfg.context,
               "batch_size": s["batch_size"], "lr": float(f"{s['lr']:.3g}"),
               "budget_s": s["budget_s"], "train_s": round(m["train_seconds"], 1),
               "tokens": m["tokens_seen"], "params": m["params"],
               "val_bpb": round(m["val_bpb"], 4), "val_ppl": round(m["val_ppl"], 2),
               "status": result.status}
        label = f"#{run} d{cfg.width}×{cfg.layers}"
        _LATEST.update(model=result.model, tokenizer=data.tokenizer,
                       label=f"run {label} from the training panel (val_bpb {m['val_bpb']:.3f})")
        self.sample_output.value = (
            "<div style='white-space:pre-wrap;border-left:3px solid #999;padding-left:8px'>"
            f"<b>{html.escape(prompt)}</b>{html.escape(story[len(prompt):])}</div>")
        how = {"completed": "", "stopped": f" · <b>stopped early</b> after {m['train_seconds']:.1f} "
               f"of {s['budget_s']:.0f} s; the model trained so far is kept",
               "diverged": f" · <b>diverged</b>: {html.escape(result.message)}"}
        self.metrics_label.value = (
            f"<b>val_bpb {m['val_bpb']:.3f}</b> bits per byte · perplexity {m['val_ppl']:.2f} · "
            f"{_human(m['tokens_seen'])} tokens in {m['train_seconds']:.1f} s "
            f"({_human(m['tokens_per_s'])}/s) · {_human(m['params'])} parameters"
            + how.get(result.status, f" · {html.escape(result.status)}"))
        self._draw()
        self._curves.append((label, [r["elapsed_s"] for r in self.records],
                             [r["train_loss"] / (math.log(2) * self._bpt) for r in self.records]))
        self.results.append(row)
        self._show_results()
        self.progress.value = self.progress.max
        self.progress.bar_style = "success" if result.status == "completed" else "warning"
        self._say(f"Done ({result.status}) in {round_trip_s:.1f} s from pressing Train. "
                  "Change something and train again to compare.")
        self._update_info()

    # results

    def to_csv(self) -> str:
        """The finished runs as CSV text (one row per run), to collect a class's results."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.results)
        return out.getvalue()

    def save_csv(self, path: str | Path = "tinylm-runs.csv") -> Path:
        path = Path(path)
        path.write_text(self.to_csv())
        self.csv_link.value = f"saved {html.escape(str(path.resolve()))}"
        return path

    def _show_results(self) -> None:
        head = "".join(f"<th>{c}</th>" for c in RESULT_COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in RESULT_COLUMNS)
                       + "</tr>" for r in reversed(self.results))
        self.results_table.value = (
            "<div style='max-height:14em;overflow:auto'><table class='tinylm-results' "
            "style='font-size:85%;border-collapse:collapse' border='1' cellpadding='3'>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
        self.results_plot.value = results_png(self.results)
        self.results_plot.layout.display = None
        href = "data:text/csv;charset=utf-8," + urllib.parse.quote(self.to_csv())
        self.csv_link.value = (f"<a download='tinylm-runs.csv' href='{href}'>"
                               "download the table as CSV</a>")
        self.export_button.disabled = False


# --- the sampling panel ---------------------------------------------------------------------

class SamplingPanel(W.VBox):
    """The chapter-4 controls around `tinylm.stream`; `.text` holds the last generated text."""

    def __init__(self, model=None, tokenizer=None, checkpoint=None, *,
                 prompt: str = "Once upon a time", temperature: float = 0.8, top_k: int = 0,
                 top_p: float = 1.0, max_new_tokens: int = 150, seed: int = 0):
        self._fixed = None
        if checkpoint is not None:
            ckpt = load(checkpoint)
            self._fixed = (ckpt.model, ckpt.tokenizer, f"checkpoint {checkpoint}")
        elif model is not None:
            model = getattr(model, "model", model)  # a TrainResult or Checkpoint works too
            if tokenizer is None:
                raise ValueError("sampling_panel(model=...) also needs tokenizer=... "
                                 "(for example data.tokenizer)")
            self._fixed = (model, tokenizer, "the model passed in")
        box = {"style": {"description_width": "8em"}, "layout": W.Layout(width="26em")}
        self.prompt = W.Textarea(value=prompt, description="prompt",
                                 layout=W.Layout(width="40em", height="4em"),
                                 style={"description_width": "8em"})
        self.temperature = W.FloatSlider(value=temperature, min=0, max=2, step=0.05,
                                         description="temperature", **box)
        self.top_k = W.IntSlider(value=top_k, min=0, max=200, description="top-k (0 = off)", **box)
        self.top_p = W.FloatSlider(value=top_p, min=0.05, max=1, step=0.05,
                                   description="top-p (1 = off)", **box)
        self.length = W.IntSlider(value=max_new_tokens, min=1, max=500,
                                  description="length (tokens)", **box)
        self.seed = W.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed", **box)
        self.generate_button = W.Button(description="Generate", button_style="primary",
                                        icon="pencil")
        self.model_label, self.output, self.status = W.HTML(), W.HTML(), W.HTML()
        self.text = ""
        for name in ("prompt", "temperature", "top_k", "top_p", "length", "seed",
                     "generate_button", "model_label", "output", "status"):
            getattr(self, name).add_class(f"tinylm-{name.replace('_', '-')}")
        self.generate_button.on_click(self.generate)
        super().__init__([self.prompt,
                          W.HBox([W.VBox([self.temperature, self.top_k, self.top_p]),
                                  W.VBox([self.length, self.seed])]),
                          W.HBox([self.generate_button, self.model_label]), self.output,
                          self.status])
        self.add_class("tinylm-sampling-panel")
        source = self._source()
        self.model_label.value = f"model: {source[2]}" if source else \
            "model: the next one a training panel finishes"

    def _source(self):
        """(model, tokenizer, label): fixed at creation, or the newest trained in this kernel."""
        if self._fixed is not None:
            return self._fixed
        if _LATEST:
            return _LATEST["model"], _LATEST["tokenizer"], _LATEST["label"]
        return None

    def generate(self, _=None) -> str:
        """Generate with the current settings, streaming into the panel; returns the text."""
        source = self._source()
        if source is None:
            self.status.value = _red("No model yet: train one with the training panel first "
                                     "(or pass model= or checkpoint=)")
            return ""
        model, tokenizer, label = source
        self.model_label.value = f"model: {html.escape(label)}"
        prompt, seed = self.prompt.value, self.seed.value
        settings = {"max_new_tokens": self.length.value, "temperature": self.temperature.value,
                    "top_k": self.top_k.value or None,
                    "top_p": self.top_p.value if self.top_p.value < 1 else None, "seed": seed}
        self.generate_button.disabled = True
        self.status.value = "generating…"
        started = last = time.perf_counter()
        text = ""
        try:
            for piece in stream(model, tokenizer, prompt, **settings):
                text += piece
                if time.perf_counter() - last > 0.1:
                    self._show(prompt, text)
                    last = time.perf_counter()
            self._show(prompt, text)
            self.status.value = (f"{len(text)} characters with seed {seed} in "
                                 f"{time.perf_counter() - started:.1f} s")
        except ValueError as e:
            self.status.value = _red(str(e))
        finally:
            self.generate_button.disabled = False
        self.text = prompt + text
        return self.text

    def _show(self, prompt: str, text: str) -> None:
        self.output.value = ("<div style='white-space:pre-wrap'>"
                             f"<b>{html.escape(prompt)}</b>{html.escape(text)}</div>")
