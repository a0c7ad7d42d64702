"""The training panel: sliders for a model and its training, Train and Stop, live curves, results.

Why it is built this way:
- Training runs in a background thread. A widget click is a message the kernel handles only
  when no cell is running; with the cell finished at once, the Stop button works mid-run.
  On Colab, where background updates may not show, it trains in the click handler (`colab`).
- Another tinylm training on this machine is said before training, with a choice (`others`).
- Plots are PNG bytes in an `ipywidgets.Image` (`..live.loss_png`), drawn without pyplot: this
  works without ipympl, from any thread, and the built book embeds the picture.
- Parameter counts are exact (`tinylm.core.models.param_count`), so labels follow a dragged slider;
  expected tokens come from `speed.SPEEDS`, measured on this machine.
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W

from tinylm.core import quick
from tinylm.core.data import DataConfig
from tinylm.core.evaluate import bits_per_byte
from tinylm.core.models import ModelConfig
from tinylm.core.sample import stream
from tinylm.core.spec import RunSpec, resolve_model
from tinylm.notebook.live import loss_png
from tinylm.notebook.panels import colab, info, kernel, others, results, speed
from tinylm.notebook.panels.controls import class_setting_html, fix, layout, outputs, passed_through, sliders
from tinylm.notebook.panels.format import metrics_text, red, story_html
from tinylm.runs.train import TrainConfig, TrainResult, train

PROMPTS = {"tinystories": "Once upon a time", "simplewiki": "The"}
DRAW_EVERY_S = 1.0  # redraw the live plot at most this often: drawing steals time from training
CURVES_SHOWN = 4  # earlier runs drawn in grey behind the current one


def training_panel(**defaults) -> TrainingPanel:
    """Sliders for a model and its training, Train and Stop, live curves, results. Keywords set
    the starting values (width, layers, heads, context, vocab, lr, batch_size, corpus, budget,
    prompt) or pass other config fields through. For a class, `student` names the CSV and
    `fixed` holds controls at the class setting: `training_panel(budget=60,
    corpus="tinystories", student="Ada", fixed=("budget", "corpus"))`."""
    return TrainingPanel(**defaults)


class TrainingPanel(results.Results, W.VBox):
    """Attributes are the widgets (`controls.sliders` and `controls.outputs`: `.width`,
    `.train_button`, ...), so tests and notebooks can drive the panel."""

    # Starting values are tinylm's current recipe, so the panel follows improvements to it.
    def __init__(self, *, width: int | None = None, layers: int = ModelConfig.layers,
                 heads: int = ModelConfig.heads, context: int = ModelConfig.context,
                 vocab: int = DataConfig.vocab_size, lr: float = TrainConfig.lr,
                 batch_size: int = TrainConfig.batch_size, corpus: str = DataConfig.corpus,
                 budget: float | None = None, prompt: str | None = None, sample_tokens: int = 120,
                 calibrate_speed: bool = True, student: str | None = None,
                 fixed: tuple[str, ...] | str = (), **options):
        self.model_options, self.train_options = passed_through(options)
        if student is not None and not isinstance(student, str):
            raise ValueError(f"student must be a name (text), not {student!r}")
        self.student = (student or "").strip() or None
        self.prompt, self.sample_tokens = prompt, sample_tokens
        self.speeds = speed.SPEEDS
        # a minute, as the chapters train: a student's panel runs compare with theirs
        budget = max(1, round(quick.budget(60) if budget is None else budget))
        if width is None:  # width="auto": what the recipe gives this budget
            width = resolve_model(ModelConfig(), budget).width
        controls = sliders(width, layers, heads, context, vocab, corpus, lr, batch_size, budget)
        widgets = {**controls, **outputs()}
        for name, widget in widgets.items():  # self.width, self.train_button, ...
            setattr(self, name, widget)
            widget.add_class(f"tinylm-{name.replace('_', '-')}")
        self.fixed = fix(controls, fixed)
        self._show_class_setting()
        self.results: list[dict] = []  # one row per finished run (RESULT_COLUMNS)
        self.records: list[dict] = []  # this run's log records
        self.result: TrainResult | None = None
        self.model = self.tokenizer = None
        self._curves: list[tuple[str, list[dict], float]] = []  # (label, records, bytes/token)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = False  # training (or waiting to), in the thread or the foreground
        self._bpt = 4.0
        self._last_draw = 0.0

        for control in (self.width, self.layers, self.heads, self.context, self.vocab,
                        self.batch_size, self.budget):
            control.observe(self._update_info, names="value")
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(lambda _: self._stop.set())
        self.wait_button.on_click(lambda _: self._start(wait=True))
        self.anyway_button.on_click(lambda _: self._start(wait=False))
        self.foreground = colab.active()  # on Colab: train in the click handler
        colab.enable_widgets()
        if self.foreground:
            self.colab_note.value, self.colab_note.layout.display = html.escape(colab.NOTE), None
            self.stop_button.tooltip = "On Colab, the ■ interrupt button stops a run"
        self.export_button.on_click(lambda _: self.save_csv())

        super().__init__(layout(widgets))
        self.add_class("tinylm-training-panel")
        self.plot.value = loss_png([], self._bpt, budget_s=self.budget.value)
        if calibrate_speed and self.problem() is None:
            self.speeds.measure(self.model_config(), self.batch_size.value)
        self._update_info()

    # what the controls say

    def settings(self) -> dict:
        return {"corpus": self.corpus.value, "vocab": self.vocab.value, "width": self.width.value,
                "layers": self.layers.value, "heads": self.heads.value,
                "context": self.context.value, "batch_size": self.batch_size.value,
                "lr": self.lr.value, "budget_s": float(self.budget.value)}

    def model_config(self, vocab_size: int | None = None) -> ModelConfig:
        """The model the sliders describe (plain bytes need vocab 257: end-of-text too)."""
        return self.run_spec(vocab_size).model

    def run_spec(self, vocab_size: int | None = None) -> RunSpec:
        """The run the controls describe."""
        s = self.settings()
        return RunSpec(DataConfig(corpus=s["corpus"], vocab_size=s["vocab"]),
                       ModelConfig(vocab_size=vocab_size or max(s["vocab"], 257),
                                   context=s["context"], width=s["width"], layers=s["layers"],
                                   heads=s["heads"], **self.model_options),
                       TrainConfig(budget_s=s["budget_s"], lr=s["lr"],
                                   batch_size=s["batch_size"], **self.train_options))

    def problem(self) -> str | None:
        """Why these settings cannot train, in one line; None if they can."""
        return info.problem(self.model_config(), self.batch_size.value)

    @property
    def running(self) -> bool:
        return self._active or (self._thread is not None and self._thread.is_alive())

    def _update_info(self, change=None) -> None:
        info.refresh(self)
        self.train_button.disabled = self.problem() is not None or self.running

    # training

    def _on_train(self, _=None) -> None:
        """Train, or first say that another training runs on this machine and offer a choice."""
        if self.running:
            return
        entries = others.find()
        if not entries:
            self._start(wait=False)
            return
        self.busy_notice.value = others.notice_html(entries)
        self._show_choice(True)

    def _show_choice(self, shown: bool) -> None:
        for widget in (self.busy_notice, self.wait_button, self.anyway_button):
            widget.layout.display = None if shown else "none"

    def _start(self, wait: bool) -> None:
        """Train now (after waiting for the other trainings when `wait`), in the background
        thread or, on Colab, here in the click handler."""
        self._show_choice(False)
        if self.running:
            return
        problem = self.problem()
        if problem:
            self._say(problem, error=True)
            return
        if not kernel.TRAINING.acquire(blocking=False):
            self._say("another training panel is training: stop it or wait for it", error=True)
            return
        self._stop.clear()
        self._active, self.records = True, []
        self.train_button.disabled, self.stop_button.disabled = True, self.foreground
        self.progress.max, self.progress.value = self.budget.value, 0
        self.progress.bar_style = ""
        self.metrics_label.value = self.sample_output.value = ""
        if self.foreground:
            self._run(self.settings(), wait)
            return
        try:
            self._thread = threading.Thread(target=self._run, args=(self.settings(), wait),
                                            name="tinylm-training", daemon=True)
            self._thread.start()
        except BaseException:
            self._active = False
            kernel.TRAINING.release()
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
        self.status.value = red(text) if error else html.escape(text)

    def _run(self, s: dict, wait: bool = False) -> None:
        started = time.perf_counter()
        try:
            if wait and not others.wait_for_others(self._stop, self._say):
                self._say("Stopped waiting: nothing was trained.")
                return
            self._say(f"Preparing {s['corpus']} with a {s['vocab']}-token vocabulary…")
            data = kernel.prepare(s["corpus"], s["vocab"])
            self._bpt = kernel.bytes_per_token(data)
            run = self.run_spec(data.vocab_size)
            cfg = run.model
            self._say("Training…")
            self._last_draw = 0.0
            result = train(data, cfg, run.train, callback=self._on_record, stop=self._stop.is_set,
                           progress=False, if_busy="go")  # the panel has asked already
            self._say("Writing a sample story…")
            prompt = self.prompt if self.prompt is not None else PROMPTS.get(s["corpus"], "The")
            story = prompt + "".join(stream(result.model, data.tokenizer, prompt, seed=0,
                                            max_new_tokens=self.sample_tokens, temperature=0.8))
            self._finish(s, cfg, data, result, prompt, story, time.perf_counter() - started)
        except Exception as e:  # shown in the panel: a student reads it, not a traceback
            self.progress.bar_style = "danger"
            self._say(f"Training failed: {type(e).__name__}: {e}", error=True)
        except KeyboardInterrupt:  # Colab's Stop outside the training loop itself
            self._say("Interrupted.")
        finally:
            self._active = False
            self.stop_button.disabled = True
            self.train_button.disabled = self.problem() is not None
            kernel.TRAINING.release()

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
        loss = bits_per_byte(record["train_loss"], self._bpt)
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
            self.speeds.remember(cfg, s["batch_size"], m["tokens_per_s"])
        run = (self.results[-1]["run"] + 1) if self.results else 1
        label = f"#{run} d{cfg.width}×{cfg.layers}"
        kernel.LATEST.update(model=result.model, tokenizer=data.tokenizer,
                             label=f"run {label} from the training panel (val_bpb {m['val_bpb']:.3f})")
        self.sample_output.value = story_html(prompt, story)
        self.metrics_label.value = metrics_text(m, result.status, s["budget_s"], result.message)
        self._draw()
        self._curves.append((label, self.records, self._bpt))
        self.results.append(results.result_row(run, s, cfg, m, result.status))
        self._show_results()
        self.progress.value = self.progress.max
        self.progress.bar_style = "success" if result.status == "completed" else "warning"
        self._say(f"Done ({result.status}) in {round_trip_s:.1f} s from pressing Train. "
                  "Change something and train again to compare.")
        self._update_info()

    def _show_class_setting(self) -> None:
        """Say what the teacher fixed and where the runs will be saved (nothing when neither)."""
        self.export_button.tooltip = f"Write {self.csv_name} next to the notebook"
        note = class_setting_html(self.fixed, self, self.student, self.csv_name)
        if note:
            self.class_note.value, self.class_note.layout.display = note, None
