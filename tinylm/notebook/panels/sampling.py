"""The chapter-4 panel: prompt, temperature, top-k, top-p, length, seed and Generate.

Without a model it samples from the newest one a training panel finished in this kernel
(`kernel.LATEST`, looked up at each Generate), so it can be shown before anything is trained.
"""

from __future__ import annotations

import html
import time

import ipywidgets as W

from tinylm.core.checkpoint import load
from tinylm.core.sample import stream
from tinylm.notebook.panels import colab, kernel
from tinylm.notebook.panels.controls import row
from tinylm.notebook.panels.format import red
from tinylm.notebook.panels.web import web_note


def sampling_panel(model=None, tokenizer=None, checkpoint=None, **defaults) -> SamplingPanel:
    """Prompt, temperature, top-k, top-p, length, seed and Generate for a trained model.

    With no model and no checkpoint it uses the newest model trained by a training panel in
    this kernel, looked up at each Generate (so it can be shown before anything is trained).
    """
    return SamplingPanel(model=model, tokenizer=tokenizer, checkpoint=checkpoint, **defaults)


class SamplingPanel(W.VBox):
    """The controls around `tinylm.stream`; `.text` holds the last generated text."""

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
        self.web_note = web_note("sampling panel")  # shown in the built book only
        colab.enable_widgets()
        self.text = ""
        for name in ("prompt", "temperature", "top_k", "top_p", "length", "seed",
                     "generate_button", "model_label", "output", "status"):
            getattr(self, name).add_class(f"tinylm-{name.replace('_', '-')}")
        self.generate_button.on_click(self.generate)
        super().__init__([self.web_note, self.prompt,
                          row(W.VBox([self.temperature, self.top_k, self.top_p]),
                              W.VBox([self.length, self.seed])),
                          row(self.generate_button, self.model_label), self.output,
                          self.status])
        self.add_class("tinylm-sampling-panel")
        source = self._source()
        self.model_label.value = f"model: {source[2]}" if source else \
            "model: the next one a training panel finishes"

    def _source(self):
        """(model, tokenizer, label): fixed at creation, or the newest trained in this kernel."""
        if self._fixed is not None:
            return self._fixed
        latest = kernel.LATEST
        if latest:
            return latest["model"], latest["tokenizer"], latest["label"]
        return None

    def generate(self, _=None) -> str:
        """Generate with the current settings, streaming into the panel; returns the text."""
        source = self._source()
        if source is None:
            self.status.value = red("No model yet: train one with the training panel first "
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
            self.status.value = red(str(e))
        finally:
            self.generate_button.disabled = False
        self.text = prompt + text
        return self.text

    def _show(self, prompt: str, text: str) -> None:
        self.output.value = ("<div style='white-space:pre-wrap'>"
                             f"<b>{html.escape(prompt)}</b>{html.escape(text)}</div>")
