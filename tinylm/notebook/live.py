"""Plots that follow a training run as it happens: `LiveLoss` for chapter cells, and the PNG
pictures the panels put into their image widgets.

Drawing takes wall clock away from the training budget, so both redraw only now and then.
Panel losses are in bits per byte: runs of different vocabularies and corpora compare.
"""

from __future__ import annotations

import time

from tinylm.core import quick
from tinylm.notebook.display import Figure, figure, png, shown_width
from tinylm.notebook.figures import WORSE, loss_line


class LiveLoss:
    """A training callback that redraws a loss plot in place while `tinylm.train` runs.

    Pass it as `callback=`. It redraws at most every `every_s` seconds and never spends more
    than about 2% of the time drawing. The final picture (with the end metrics in its title)
    stays in the notebook, also when the notebook is executed headless for the book.
    """

    def __init__(self, title: str = "", every_s: float = 2.0):
        self.title, self.every_s = title, every_s
        self.history: list[dict] = []
        self.metrics: dict | None = None
        self._last = self._cost = 0.0
        self._handle = None
        self._show()

    def __call__(self, record: dict) -> None:
        if record.get("event") == "end":
            self.metrics = record
            self._show()
        elif record.get("event", "log") == "log":
            self.history.append(record)
            if time.perf_counter() - self._last >= max(self.every_s, 50 * self._cost):
                self._show()

    def figure(self) -> Figure:
        fig, ax = figure(height=3.2)
        loss_line(ax, self.history, label="train loss")
        loss_line(ax, self.history, "val_loss", "o", color=WORSE, label="validation loss")
        ax.set(xlabel="seconds of training", ylabel="loss (nats per token)")
        title = self.title
        if self.metrics:
            m = self.metrics
            title += f"  (final: val_bpb {m['val_bpb']:.3f}, ppl {m['val_ppl']:.2f})"
        elif not self.history:
            title += "  (waiting for the first steps...)"
        ax.set_title(title.strip(), fontsize=10)
        if self.history:
            ax.legend(fontsize=8)
        return fig

    def _show(self) -> None:
        start = time.perf_counter()
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:
            return
        if get_ipython() is None:
            return  # plain Python: just collect the history
        data = self.figure()._repr_png_()
        image = Image(data=data, format="png", width=shown_width(data))
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        self._last = time.perf_counter()
        self._cost = self._last - start


def train_recipe(spec: dict, budget_s: float, title: str = "", **kwargs):
    """Train a stored recipe's settings live for `budget_s`, with a live loss plot.

    The training text is capped as quick mode asks (`quick.data_cap`), so quick runs stay quick.
    """
    from dataclasses import replace

    from tinylm.core.data import DataConfig, prepare
    from tinylm.lab.recipes import run_spec
    from tinylm.runs.train import train

    cap = quick.data_cap(spec.get("max_train_bytes", DataConfig.max_train_bytes))
    run = run_spec(spec, budget_s=budget_s, max_train_bytes=cap).validate()
    data = prepare(run.data)
    return train(data, replace(run.model, vocab_size=data.vocab_size), run.train,
                 callback=LiveLoss(title), **kwargs)


# ---------------------------------------------------------------- the panels' pictures


def loss_png(records: list[dict], bytes_per_token: float, earlier=(), budget_s=None) -> bytes:
    """The panel's live plot: this run's training (line) and validation (dots) loss in bits per
    byte, earlier runs (`(label, records, bytes_per_token)`) in grey behind it."""
    fig, ax = figure(height=3.0, dpi=80)
    for label, history, bpt in earlier:
        line = loss_line(ax, history, bytes_per_token=bpt, color="0.78", lw=1)
        if line is not None:
            ax.annotate(label, (line.get_xdata()[-1], line.get_ydata()[-1]), fontsize=7,
                        color="0.5")
    if records:
        loss_line(ax, records, bytes_per_token=bytes_per_token, color="C0", lw=1.5,
                  label="training")
        loss_line(ax, records, "val_bpb", "o", color="C1", ms=4, label="validation")
        ax.legend(loc="upper right", fontsize=8)
    elif not earlier:
        # The same picture shows in the book, where nothing trains: say what Train needs.
        ax.text(0.5, 0.5, "Press Train to draw the loss curve\n(in a notebook with a running "
                "Python kernel)", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    if budget_s:
        ax.set_xlim(0, max(budget_s, *(h[-1]["elapsed_s"] for _, h, _ in earlier if h), 1))
    ax.set_xlabel("seconds of training")
    ax.set_ylabel("loss (bits per byte)")
    ax.grid(alpha=0.3)
    return png(fig)


def results_png(rows: list[dict], last: int = 10) -> bytes:
    """Bar chart of the last runs' validation bits per byte (lower is better)."""
    rows = rows[-last:]
    fig, ax = figure(height=2.2, dpi=80)
    labels = [f"#{r['run']}\nd{r['width']}×{r['layers']}" for r in rows]
    values = [r["val_bpb"] for r in rows]
    best = min(range(len(values)), key=values.__getitem__) if values else -1
    ax.bar(labels, values, color=["C2" if i == best else "C0" for i in range(len(values))])
    for i, v in enumerate(values):
        ax.annotate(f"{v:.3f}", (i, v), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("val bits/byte\n(lower is better)", fontsize=8)
    ax.tick_params(labelsize=7)
    return png(fig)
