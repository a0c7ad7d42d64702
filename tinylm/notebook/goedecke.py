"""Goedecke's numbers, quoted, and this book's size sweep beside them.

The book's one home for another author's figures (his figures, not measured here):

* Sean Goedecke, "What's the strongest AI model you can train on a laptop in five minutes?"
  (2025), https://www.seangoedecke.com/model-on-a-mbp/: validation perplexity against model
  size after five minutes on his MacBook Pro, read off his figure; and his best model, about
  1.8M parameters at a perplexity of about 9.6, as his text gives it.
* His follow-up on AI research with Codex, https://www.seangoedecke.com/ai-research-with-codex/:
  a tuned transformer of 3 layers, 4 heads and width 144, and "shallow fusion" (n-gram and
  cache predictions mixed into the model's).

His perplexities are per token of his tokenizer on his validation text; his posts do not name
the tokenizer. Bits per byte would compare across tokenizers, but converting needs his bytes
per token, so `BYTES_PER_TOKEN` is an assumed range, not his figure.
"""

from __future__ import annotations

import math

from tinylm.core.evaluate import bits_per_byte
from tinylm.lab.head_to_head import bytes_per_token
from tinylm.lab.results import Study
from tinylm.lab.sweeps import width_of, with_every_run
from tinylm.notebook.display import HTML, Figure, figure, note
from tinylm.notebook.figures import NEUTRAL

# (parameters, validation perplexity) of his transformers after five minutes, read off his figure
TRANSFORMERS = ((0.12e6, 21.8), (0.27e6, 16.0), (0.90e6, 10.0), (1.8e6, 9.7), (2.6e6, 9.7),
                (4.0e6, 13.0))
LSTMS = (11.3, 12.8)  # the range of his LSTMs' perplexities, from the same figure
BEST_PARAMS, BEST_PPL = 1.8e6, 9.6  # his best model, as his text gives it
TUNED_PPL = 8.53  # follow-up: 3 layers, 4 heads, width 144, tuned
FUSION_PPL = 7.38  # follow-up: shallow fusion (n-gram and cache predictions mixed in)
BYTES_PER_TOKEN = (3.8, 4.3)  # assumed: his tokenizer's bytes per token are not stated

COLUMNS = ["model", "params", "val_ppl", "bytes/token", "val_bpb"]  # val_ppl: per token
OURS = "C0"  # this book's measured line; his quoted points are grey (NEUTRAL)


def his_bpb(ppl: float) -> tuple[float, float]:
    """A perplexity per token of his tokenizer in bits per byte, at each end of
    `BYTES_PER_TOKEN` (more bytes per token, fewer bits per byte)."""
    return tuple(bits_per_byte(math.log(ppl), bpt) for bpt in BYTES_PER_TOKEN)


def _span(values, digits: int = 3) -> str:
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def conversions(study: Study | None) -> list[dict]:
    """Rows for a table (`COLUMNS`): his quoted perplexities with the bits per byte each would
    be at the ends of `BYTES_PER_TOKEN` (an assumed range), then the best size of `study` (a
    size sweep, every run) with its perplexity per token of tinylm's tokenizer (exp(val_loss)),
    its bytes per token and its val_bpb."""
    rows = [{"model": name, "params": params, "val_ppl": ppl,
             "bytes/token": "assumed " + _span(BYTES_PER_TOKEN, 1), "val_bpb": _span(his_bpb(ppl))}
            for name, params, ppl in (("his best (quoted)", BEST_PARAMS, BEST_PPL),
                                      ("his tuned (quoted)", None, TUNED_PPL),
                                      ("his fused (quoted)", None, FUSION_PPL))]
    study = study and with_every_run(study)
    for r in [min(study.rows, key=lambda r: r["val_bpb"])] if study and study.rows else []:
        rows.append({"model": f"tinylm's best, width {width_of(study, r['recipe'])}",
                     "params": r["params"], "val_ppl": math.exp(r["val_loss"]),
                     "bytes/token": bytes_per_token(study, r["recipe"]), "val_bpb": r["val_bpb"]})
    return rows


def goedecke_sizes(study: Study | None) -> Figure | HTML:
    """Perplexity per token against parameters: his quoted points (per token of his tokenizer)
    beside `study`, a size sweep of this book with every run (exp(val_loss), per token of
    tinylm's tokenizer), its best size starred. Two tokenizers: an indication only."""
    if study is None or not study.rows:
        return note("No stored size sweep to set beside Goedecke's figure.")
    study = with_every_run(study)
    fig, ax = figure(height=2.2)
    ax.plot(*zip(*TRANSFORMERS), "s--", color=NEUTRAL, mfc="white", ms=5,
            label="Goedecke's transformers (his figure; his tokenizer)")
    ax.axhspan(*LSTMS, color=NEUTRAL, alpha=0.25, lw=0, label="his LSTMs (his figure)")
    for ppl, text in ((TUNED_PPL, "tuned"), (FUSION_PPL, "with shallow fusion")):
        ax.axhline(ppl, color=NEUTRAL, ls=":", lw=1)
        ax.annotate(f"his follow-up, {text} (his figure)", (0, ppl), xycoords=("axes fraction", "data"),
                    xytext=(4, 2), textcoords="offset points", fontsize=7, color="#5c677d")
    rows = sorted(study.rows, key=lambda r: r["params"])
    ours = [(r["params"], math.exp(r["val_loss"])) for r in rows]
    ax.plot(*zip(*ours), "o-", color=OURS, ms=4,
            label=f"tinylm, {study.name} (tinylm's tokenizer)")
    ax.plot(*min(ours, key=lambda p: p[1]), "*", ms=14, color=OURS, mec="black")
    ax.set_xscale("log")
    ticks = [t for t in (1e5, 3e5, 1e6, 3e6, 1e7) if TRANSFORMERS[0][0] / 2 < t < 2 * max(
        TRANSFORMERS[-1][0], ours[-1][0])]
    ax.set_xticks(ticks, [f"{t / 1e6:g}M" for t in ticks])
    ax.set_xticks([], minor=True)
    ax.set(xlabel="parameters", ylabel="val perplexity per token\n(of each one's tokenizer)")
    ax.set_title("five minutes of training: perplexities per token of two different "
                 "tokenizers (indicative only)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center")
    return fig
