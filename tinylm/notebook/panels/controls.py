"""The sliders of a training panel, with the ranges a student may pick from; the panel's
starting values are always among the options."""

from __future__ import annotations

import ipywidgets as W

from ... import quick

CONTEXTS = (32, 64, 128, 256, 512)
VOCABS = (("256 (bytes)", 256), ("512", 512), ("1024", 1024), ("2048", 2048), ("4096", 4096),
          ("8192", 8192))
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)
CORPORA = ("tinystories", "simplewiki")
BUDGET_MAX_S = 300


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


def outputs() -> dict[str, W.Widget]:
    """{name: widget} for what a training panel says and shows, and its buttons."""
    return {
        "heads_warning": W.HTML(layout=W.Layout(max_width="24em")),
        "params_label": W.HTML(), "memory_label": W.HTML(), "tokens_label": W.HTML(),
        "train_button": W.Button(description="Train", button_style="success", icon="play"),
        "stop_button": W.Button(description="Stop", button_style="danger", icon="stop",
                                disabled=True),
        "progress": W.FloatProgress(value=0, min=0, max=1, layout=W.Layout(width="20em")),
        "status": W.HTML("Move the sliders, then press <b>Train</b>."),
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
    return [W.HBox([model, training]),
            W.VBox([w["params_label"], w["memory_label"], w["tokens_label"]]),
            W.HBox([w["train_button"], w["stop_button"], w["progress"]]), w["status"],
            w["plot"], w["metrics_label"], w["sample_output"],
            W.HTML("<b>Your runs</b>"), w["results_table"], w["results_plot"],
            W.HBox([w["export_button"], w["csv_link"]])]
