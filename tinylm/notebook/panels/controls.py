"""The controls of a training panel: sliders with the ranges a student may pick from (the
panel's starting values always among them), its outputs and buttons, and settings passed through."""

from __future__ import annotations

import html
from dataclasses import fields

import ipywidgets as W

from tinylm.core import quick
from tinylm.core.models import ModelConfig
from tinylm.notebook.panels.web import live_or_web, web_note
from tinylm.runs.train import TrainConfig

CONTEXTS = (32, 64, 128, 256, 512)
VOCABS = (("256 (bytes)", 256), ("512", 512), ("1024", 1024), ("2048", 2048), ("4096", 4096),
          ("8192", 8192))
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
CORPORA = ("tinystories", "simplewiki")
BUDGET_MAX_S = 300
# The panel trains eager: a compiled first step would stall the curve for
# tinylm.measured.COMPILE_WARM_S to COMPILE_COLD_S seconds.
COMPILE = "off"
_MODEL_KEYS = {f.name for f in fields(ModelConfig)} - {"vocab_size", "context", "width", "layers",
                                                        "heads"}
_TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - {"budget_s", "lr", "batch_size"}


def passed_through(options: dict) -> tuple[dict, dict]:
    """(ModelConfig fields, TrainConfig fields) of the panel's other keywords; TypeError for
    any other name (a typo must not be silently ignored)."""
    unknown = set(options) - _MODEL_KEYS - _TRAIN_KEYS
    if unknown:
        raise TypeError(f"training_panel() got unknown settings {sorted(unknown)}; it takes "
                        "width, layers, heads, context, vocab, lr, batch_size, corpus, budget, "
                        "prompt, student, fixed, and ModelConfig/TrainConfig fields")
    # A short final evaluation keeps the round trip from Train to a sample short; runs stay
    # comparable.
    return ({k: v for k, v in options.items() if k in _MODEL_KEYS},
            {"compile": COMPILE, "final_eval_tokens": quick.eval_tokens(65_536),
             **{k: v for k, v in options.items() if k in _TRAIN_KEYS}})


def sliders(width: int, layers: int, heads: int, context: int, vocab: int, corpus: str,
            lr: float, batch_size: int, budget: int) -> dict[str, W.Widget]:
    """{name: control} for the model (width ... vocab) and its training (corpus ... budget)."""
    box = {"style": {"description_width": "8.5em"}, "layout": W.Layout(width="24em")}
    vocabs = dict(VOCABS) if vocab in dict(VOCABS).values() else {**dict(VOCABS), str(vocab): vocab}
    return {
        "width": W.IntSlider(value=width, min=min(16, width), max=max(512, width), step=16,
                             description="width", **box),
        "layers": W.IntSlider(value=layers, min=1, max=max(12, layers), description="layers", **box),
        "heads": W.IntSlider(value=heads, min=1, max=max(16, heads), description="heads", **box),
        "context": W.SelectionSlider(options=sorted({*CONTEXTS, context}), value=context,
                                     description="context (tokens)", **box),
        "vocab": W.Dropdown(options=list(vocabs.items()), value=vocab, description="vocabulary",
                            **box),
        "corpus": W.Dropdown(options=list(dict.fromkeys([*CORPORA, corpus])), value=corpus,
                             description="corpus", **box),
        "lr": W.FloatLogSlider(value=lr, base=10, min=-4, max=-1.3, step=0.05,
                               readout_format=".1e", description="learning rate", **box),
        "batch_size": W.SelectionSlider(options=sorted({*BATCH_SIZES, batch_size}),
                                        value=batch_size, description="batch size", **box),
        "budget": W.IntSlider(value=budget, min=min(10, round(quick.budget(10)), budget),
                              max=max(BUDGET_MAX_S, budget), description="time budget (s)", **box),
    }


def fix(controls: dict[str, W.Widget], names) -> list[str]:
    """Disable the named controls: a class setting (the budget, the corpus) that every
    student's runs must share to be compared. ValueError for a name that is no control."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in controls]
    if unknown:
        raise ValueError(f"fixed={unknown} names no control of the training panel; use some of "
                         f"{', '.join(controls)}")
    for name in names:
        controls[name].disabled = True
        controls[name].tooltip = "fixed for the class by the teacher"
    return names


def outputs() -> dict[str, W.Widget]:
    """{name: widget} for what a training panel says and shows, and its buttons."""
    def hidden():  # shown only when needed; a layout each, so each shows alone
        return {"layout": W.Layout(display="none")}

    return {
        "web_note": web_note("training panel"),
        "class_note": W.HTML(**hidden()),
        "heads_warning": W.HTML(layout=W.Layout(max_width="24em")),
        "params_label": W.HTML(), "memory_label": W.HTML(), "tokens_label": W.HTML(),
        "train_button": W.Button(description="Train", button_style="success", icon="play"),
        "stop_button": W.Button(description="Stop", button_style="danger", icon="stop",
                                disabled=True),
        "colab_note": W.HTML(**hidden()),
        "busy_notice": W.HTML(**hidden()),
        "wait_button": W.Button(description="Wait for it", icon="hourglass-half",
                                tooltip="Train once the other training has finished", **hidden()),
        "anyway_button": W.Button(description="Train anyway", button_style="warning",
                                  icon="play", tooltip="Train now: both trainings run slower",
                                  **hidden()),
        "progress": W.FloatProgress(value=0, min=0, max=1, layout=W.Layout(width="20em")),
        "status": W.HTML(live_or_web("Move the sliders, then press <b>Train</b>.",
                                     "Nothing trains on this web page: see the note at the top of "
                                     "this panel.")),
        "plot": W.Image(format="png", layout=W.Layout(max_width="640px")),
        "metrics_label": W.HTML(), "sample_output": W.HTML(),
        "results_table": W.HTML(),
        "results_plot": W.Image(format="png", layout=W.Layout(max_width="640px", display="none")),
        "export_button": W.Button(description="Save CSV", icon="download", disabled=True,
                                  tooltip="Write tinylm-runs.csv next to the notebook"),
        "csv_link": W.HTML(),
    }


def layout(w: dict[str, W.Widget]) -> list[W.Widget]:
    """The panel's rows, top to bottom: controls, what they imply, buttons, the run, its results."""
    model = W.VBox([W.HTML("<b>Model</b>"), *(w[k] for k in ("width", "layers", "heads",
                                                             "heads_warning", "context", "vocab"))])
    training = W.VBox([W.HTML("<b>Training</b>"),
                       *(w[k] for k in ("corpus", "lr", "batch_size", "budget"))])
    return [w["web_note"], w["class_note"], row(model, training),
            W.VBox([w["params_label"], w["memory_label"], w["tokens_label"]]),
            row(w["train_button"], w["stop_button"], w["progress"]), w["colab_note"],
            w["busy_notice"], row(w["wait_button"], w["anyway_button"]), w["status"],
            w["plot"], w["metrics_label"], w["sample_output"],
            W.HTML("<b>Your runs</b>"), w["results_table"], w["results_plot"],
            row(w["export_button"], w["csv_link"])]


def row(*children: W.Widget) -> W.HBox:
    """Side by side where there is room, the next below where there is not (a narrow page)."""
    return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap"))


def class_setting_html(fixed, panel, student: str | None, csv_name: str) -> str:
    """What the teacher fixed for the class and where a student's runs are saved, as HTML ("" when
    neither): the panel says it above its controls."""
    words = {"budget": f"budget {panel.budget.value} s", "batch_size": "batch size",
             "lr": "learning rate"}
    shown = ", ".join(words.get(k, k) + ("" if k == "budget" else f" {getattr(panel, k).value}")
                      for k in fixed)
    parts = [f"<b>Class setting</b>: {html.escape(shown)}, fixed for everyone."] if shown else []
    if student:
        parts.append(f"Runs of <b>{html.escape(student)}</b>, saved as "
                     f"<code>{html.escape(csv_name)}</code>.")
    return " ".join(parts)
