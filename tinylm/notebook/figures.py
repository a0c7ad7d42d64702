"""Figures of stored and live results: loss over time, sizes, speed, effects, families.

Every loss-over-time line (live plots, chapter curves, the panel, the harness's curves.png) is
drawn by `loss_line`, so they share units and style. A missing study gives a note, not a crash.
"""

from __future__ import annotations

import re

from tinylm.core.evaluate import bits_per_byte
from tinylm.lab.analysis import FAMILY_NAMES, family_rows
from tinylm.lab.results import Study
from tinylm.lab.sweeps import optima
from tinylm.notebook.display import HTML, Figure, figure, note

BETTER, WORSE, NEUTRAL = "#2a9d8f", "#e76f51", "#8d99ae"
YLABELS = {"train_loss": "training loss (nats per token)", "val_loss": "val loss (nats per token)",
           "val_bpb": "val bits per byte"}


def loss_line(ax, history: list[dict], key: str = "train_loss", style: str = "-",
              bytes_per_token: float | None = None, **kwargs):
    """`key` of history records against seconds of training, as one line (None when no record
    has it). With `bytes_per_token`, a loss in nats per token is drawn in bits per byte."""
    pts = [(r["elapsed_s"], r[key]) for r in history if r.get(key) is not None]
    if not pts:
        return None
    if bytes_per_token is not None:
        pts = [(x, bits_per_byte(y, bytes_per_token)) for x, y in pts]
    (line,) = ax.plot(*zip(*pts), style, **kwargs)
    return line


def loss_curves(runs: dict[str, list[dict]], key: str = "train_loss", title: str = "") -> Figure:
    """One line per run of `key` (train_loss, val_loss or val_bpb) against seconds of training."""
    fig, ax = figure()
    for name, history in runs.items():
        loss_line(ax, history, key, "o-" if key.startswith("val") else "-", label=name, ms=3)
    ax.set(xlabel="seconds of training", ylabel=YLABELS.get(key, key))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def study_curves(study: Study | None, key: str = "val_bpb"):
    """Loss against time for every recipe of a study (the first repeat of each)."""
    if study is None or not study.runs:
        return note("No stored runs to plot.")
    runs = {}
    for r in study.runs:
        runs.setdefault(r["recipe"], r["metrics"].get("history", []))
    return loss_curves(runs, key, title=study.name)


def harness_curves(runs: list[dict], names: dict[str, str], title: str) -> Figure:
    """val_bpb against time of every run of a harness study, one colour per recipe
    (`names`: {recipe: legend name}); a dot marks each final, full evaluation."""
    fig, ax = figure(width=7.0, height=4.6)  # the column's width: its text stays readable
    for i, (recipe, name) in enumerate(names.items()):
        colour = f"C{i % 10}"
        for r in (r for r in runs if r["recipe"] == recipe):
            loss_line(ax, r["metrics"]["history"], "val_bpb", color=colour, alpha=0.8,
                      label=name if r["repeat"] == 0 else None)
            ax.plot(r["metrics"]["train_seconds"], r["metrics"]["val_bpb"], "o", color=colour)
    ax.set(xlabel="wall-clock seconds of training",
           ylabel="validation bits per byte\n(line: sampled windows, dot: final, all windows)",
           title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncols=2,
              frameon=False)
    return fig


# ---------------------------------------------------------------- the size sweep


def _default_sweep(s: Study) -> bool:
    """A sweep of the default recipe's width (sizes-60s, sizes3-60s, threads1-sizes2-300s)."""
    return re.match(r"(threads\d+-)?sizes\d*-", s.name) is not None


def _budget_label(s: Study) -> str:
    """'300 s' for the default recipe's sweeps (with the study's name, where it is not plain
    sizes-), the study's name for any other."""
    if not (s.budget_s and _default_sweep(s)):
        return s.name
    return f"{s.budget_s:.0f} s" + ("" if s.name.startswith("sizes-") else f" ({s.name})")


def size_curves(studies: list[Study], key: str = "val_bpb"):
    """val_bpb against parameters, one line per budget, the best size of each starred."""
    if not studies:
        return note("No stored size sweeps to plot.")
    fig, ax = figure()
    for s in studies:
        rows = sorted(s.rows, key=lambda r: r["params"])
        style = "o-" if _default_sweep(s) and not s.name.startswith("threads") else "s--"
        (line,) = ax.plot([r["params"] for r in rows], [r[key] for r in rows], style, ms=4,
                          label=_budget_label(s))
        best = min(rows, key=lambda r: r[key])
        ax.plot(best["params"], best[key], "*", ms=16, color=line.get_color(), mec="black")
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="val bits per byte" if key == "val_bpb" else key)
    ax.set_title("the best size (star) for each training budget", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def throughput(studies: list[Study], measured: list[dict] | None = None):
    """Training tokens per second against parameters: stored runs, and this laptop if measured."""
    if not studies and not measured:
        return note("No stored size sweeps to plot.")
    fig, ax = figure()
    for s in studies:
        rows = sorted(s.rows, key=lambda r: r["params"])
        ax.plot([r["params"] for r in rows], [r["tokens_per_s"] for r in rows], "o-", ms=4,
                label=f"benchmark runs, {_budget_label(s)}")
    if measured:
        rows = sorted(measured, key=lambda r: r["params"])
        speed = [r.get("tokens_per_s", r.get("eager_tokens_per_s")) for r in rows]
        ax.plot([r["params"] for r in rows], speed, "s--", ms=5, color="black",
                label="this machine (eager probe)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="parameters", ylabel="training tokens per second")
    ax.set_title("bigger models see fewer tokens in the same time", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def optimum_vs_budget(studies: list[Study]):
    """The best parameter count against the training budget, one line per thread count, each
    star labelled with its width and study (needs two budgets or more)."""
    if len({s.budget_s for s in studies}) < 2:
        return note("Only one training budget is stored: nothing to compare yet.")
    rows = optima(studies)
    fig, ax = figure(height=3.0)
    for threads in sorted({r["threads"] or 0 for r in rows}, reverse=True):
        part = sorted((r for r in rows if (r["threads"] or 0) == threads),
                      key=lambda r: r["budget_s"])
        label = f"{threads} thread{'s' * (threads != 1)}" if threads else "stored sweeps"
        ax.plot([r["budget_s"] for r in part], [r["params"] for r in part], "*-", ms=12,
                label=label)
    points: dict[tuple, list[str]] = {}  # sweeps with the same best size share one label
    for r in rows:
        points.setdefault((r["budget_s"], r["params"], r["width"]), []).append(r["study"])
    for (budget, params, width), names in points.items():
        ax.annotate(f"width {width}\n" + "\n".join(names), (budget, params), fontsize=8,
                    textcoords="offset points", xytext=(8, -4), va="top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    budgets = sorted({r["budget_s"] for r in rows})
    ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
    ax.set_xticks([], minor=True)
    ax.set_xlim(budgets[0] / 1.4, budgets[-1] * 2.2)
    ax.set(xlabel="training budget (seconds)", ylabel="best size (parameters)")
    ax.set_title("the best size of each stored sweep, against its budget", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return fig


# ---------------------------------------------------------------- effects and families


def delta_bars(rows: list[dict]):
    """Bars of val_bpb minus the baseline's, one panel per study: left of zero is better."""
    rows = [r for r in rows if r["verdict"] != "baseline"]
    if not rows:
        return note("No stored results to plot.")
    studies = list(dict.fromkeys(r["study"] for r in rows))
    sizes = [sum(r["study"] == s for r in rows) for s in studies]
    fig = Figure(figsize=(6.4, 0.4 * sum(sizes) + 1.1 * len(studies)), layout="constrained")
    axes = fig.subplots(len(studies), 1, squeeze=False, height_ratios=[n + 1.5 for n in sizes])
    for ax, study in zip(axes[:, 0], studies):
        part = [r for r in rows if r["study"] == study]
        colours = [_colour(r["verdict"]) for r in part]
        y = list(range(len(part)))
        ax.barh(y, [r["delta_bpb"] for r in part], xerr=[r["plus_minus"] for r in part],
                color=colours, capsize=3)
        ax.set_yticks(y, [_short(r["change"]) for r in part], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.8)
        budget = part[0].get("budget_s")
        ax.set_title(f"{study}" + (f" ({budget:.0f} s runs)" if budget else "")
                     + ": one change to its first recipe", fontsize=9)
    axes[-1, 0].set_xlabel("change in val_bpb (bits per byte; negative = better)")
    return fig


def _colour(verdict: str) -> str:
    """Green helps, red hurts; paler for a single run beyond the noise (unconfirmed)."""
    if verdict in ("helps", "hurts"):
        return BETTER if verdict == "helps" else WORSE
    if verdict.startswith(("better", "worse")):
        return "#94d2bd" if verdict.startswith("better") else "#f4a261"
    return NEUTRAL


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def family_sizes(studies: list[Study]) -> Figure | HTML:
    """val_bpb against parameters for each family, one panel per budget, each best starred."""
    rows = family_rows(studies)
    if not rows:
        return note("No stored family studies to plot.")
    budgets = sorted({r["budget_s"] for r in rows})
    # At most the column's width (a wider figure is shrunk, and its text with it); one y scale.
    fig = Figure(figsize=(min(4.6 * len(budgets), 7.4), 3.6), layout="constrained")
    axes = list(fig.subplots(1, len(budgets), sharey=True, squeeze=False)[0])
    for ax, budget in zip(axes, budgets, strict=True):
        for name in FAMILY_NAMES.values():
            pts = sorted((r["params"], r["val_bpb"]) for r in rows
                         if r["budget_s"] == budget and r["family"] == name)
            if not pts:
                continue
            (line,) = ax.plot(*zip(*pts, strict=True), "o-", ms=4, label=name)
            best = min(pts, key=lambda p: p[1])
            ax.plot(*best, "*", ms=14, color=line.get_color(), mec="black")
        ax.set_xscale("log")
        ax.set(xlabel="parameters", title=f"{budget:.0f} s budget")
    axes[0].set_ylabel("val bits per byte")
    axes[0].legend(fontsize=8)
    return fig


# ---------------------------------------------------------------- generated text


def alternatives(records: list[dict], position: int) -> Figure:
    """The model's top candidates at one position of a generated text, the chosen one marked."""
    r = records[position]
    names = [repr(t) for t, _ in r["top"]]
    fig, ax = figure(height=2.6)
    colours = [BETTER if t == r["text"] else NEUTRAL for t, _ in r["top"]]
    ax.barh(names, [p for _, p in r["top"]], color=colours)
    ax.invert_yaxis()
    ax.set(xlabel="probability", xlim=(0, min(1.0, 1.15 * max(p for _, p in r["top"]) + 1e-3)))
    context = "".join(x["text"] for x in records[max(0, position - 8):position])
    ax.set_title(f"after ...{context!r}, the model chose {r['text']!r}", fontsize=9)
    return fig
