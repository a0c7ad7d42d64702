"""Figures and tables of the recipe chapter: the noise between seeds, one change against its
baseline, the learning-rate schedule, the recipe card and the attention kernels' speed.
"""

from __future__ import annotations

import json
import textwrap

from tinylm.core.schedule import TrainConfig, lr_at
from tinylm.lab import results
from tinylm.lab.analysis import WRAP, effects
from tinylm.lab.noise import needed_margin, noise_at
from tinylm.lab.recipe_card import CARD_COLUMNS, card_rows
from tinylm.lab.results import Study
from tinylm.notebook.display import HTML, Figure, figure, note, table
from tinylm.notebook.figures import loss_line


def seed_spread(spread: list[dict]) -> Figure | HTML:
    """Each repeated run's val_bpb minus its recipe's mean, one column per budget: how far runs
    of the SAME recipe land apart, which is what any difference must beat."""
    if not spread:
        return note("No repeated runs stored.")
    budgets = sorted({r["budget_s"] for r in spread})
    fig, ax = figure(height=2.4)
    for i, budget in enumerate(budgets):
        rows = [r for r in spread if r["budget_s"] == budget]
        for j, r in enumerate(rows):
            mean = sum(r["values"]) / len(r["values"])
            x = i + 0.6 * (j / max(1, len(rows) - 1) - 0.5)
            ax.plot([x] * r["n"], [v - mean for v in r["values"]], "-o", ms=3, lw=0.8,
                    color="C0", alpha=0.7)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(range(len(budgets)), [_budget_tick(spread, b) for b in budgets])
    ax.set(xlabel="training budget (recipes run more than once)",
           ylabel="val_bpb minus the\nrecipe's mean")
    ax.set_title("runs of the same recipe, joined: the seed alone moves the score", fontsize=10)
    return fig


def _budget_tick(spread: list[dict], budget: float) -> str:
    """'300 s' (or '4000 steps' for studies that fixed the steps), and how many recipes."""
    rows = [r for r in spread if r["budget_s"] == budget]
    steps = {r["study"].rsplit("-", 1)[-1] for r in rows if r["study"].endswith("steps")}
    return (steps.pop().replace("steps", " steps") if len(steps) == 1 and len(rows) == sum(
        r["study"].endswith("steps") for r in rows) else f"{budget:.0f} s") + f"\n({len(rows)})"


def versus(study: Study | None, change: str, title: str = "") -> Figure | HTML:
    """val_bpb over time of a study's baseline and the row whose change is `change`, every
    repeat (a dot marks each run's final score); the default title states the measured
    difference and its verdict, so the figure needs no sentence beside it."""
    rows = {r["change"]: r for r in effects(study)} if study else {}
    if change not in rows:
        return note(f"No stored row {change!r}" + (f" in {study.name}." if study else "."))
    base = next(r["recipe"] for r in rows.values() if r["verdict"] == "baseline")
    fig, ax = figure(height=2.5)
    for colour, (recipe, name) in zip(("C7", "C0"), ((base, "baseline"), (rows[change]["recipe"], change))):
        for k, r in enumerate(x for x in study.runs if x["recipe"] == recipe):
            loss_line(ax, r["metrics"]["history"], "val_bpb", color=colour, alpha=0.8,
                      label=name if k == 0 else None)
            if r["metrics"].get("train_seconds"):
                ax.plot(r["metrics"]["train_seconds"], r["metrics"]["val_bpb"], "o", color=colour)
    ax.set_xlabel("seconds of training")
    row = rows[change]
    ax.set_title(title or f"{study.name}: {change}, {row['delta_bpb']:+.3f} ± "
                          f"{row['plus_minus']:.3f} bpb: {row['verdict']}", fontsize=10)
    ys = [y for line in ax.get_lines() for y in line.get_ydata()]
    ax.set_ylim(min(ys) - 0.02, min(max(ys), min(ys) + 0.6) + 0.02)  # the first ones hide the end
    ax.set_ylabel("val bits per byte\n(line: sampled; dot: final)")
    ax.legend(fontsize=8)
    return fig


def schedules(configs: dict[str, TrainConfig], points: int = 401) -> Figure:
    """The learning rate (`lr_at`) against the fraction of the budget, one line per config."""
    fig, ax = figure(height=2.2)
    xs = [i / (points - 1) for i in range(points)]
    for name, cfg in configs.items():
        ax.plot(xs, [lr_at(cfg, x) for x in xs], label=name)
    ax.set(xlabel="fraction of the budget", ylabel="learning rate")
    ax.legend(fontsize=8)
    return fig


def margin_text(noise: dict[float, dict], budget_s: float, label: str = "") -> str:
    """What a difference between two single runs, and between two means of two, must exceed
    (`label` names the budget, e.g. "4,000 steps"; default "<budget_s> s")."""
    at = noise_at(noise, budget_s)
    near = "" if at["budget_s"] == budget_s else f" (measured at {at['budget_s']:.0f} s, the nearest)"
    label = label or f"{budget_s:.0f} s"
    return textwrap.fill(
        f"At {label}{near} one run lands {at['sd']:.4f} bits per byte from its recipe's "
        f"mean (standard deviation, pooled over {at['recipes']} repeated recipes; median gap "
        f"between two runs {at['median_gap']:.4f}, largest {at['max_gap']:.4f}). So a "
        f"difference between two single runs must exceed {needed_margin(at['sd']):.4f}, and "
        f"between two means of two runs {needed_margin(at['sd'], 2, 2):.4f}, to count.", WRAP)


def recipe_card() -> HTML:
    """GPT-2 against tinylm, one row per setting, with each setting's measured effect."""
    return table(card_rows(), CARD_COLUMNS)


def attention_speed(name: str = "default-bf16.json") -> list[dict]:
    """The stored timing of attention written as matmuls against PyTorch's fused kernel."""
    path = results.results_dir() / "attention_speed" / name
    if not path.exists():
        return []
    rows = json.loads(path.read_text())["rows"]
    sdpa = next((r["samples"] for r in rows if r.get("sdpa")), None)
    out = []
    for r in rows:
        per_round = [a / b for a, b in zip(r["samples"], sdpa)] if sdpa else []
        out.append({"attention": r["label"], "tokens_per_s": r["tokens_per_s"],
                    "slowest": min(r["samples"]), "fastest": max(r["samples"]),
                    "vs_sdpa": r["ratio_vs_sdpa"], "rounds": len(r["samples"]),
                    "round_min": min(per_round, default=None),
                    "round_max": max(per_round, default=None)})
    return out
