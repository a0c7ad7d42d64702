"""What the stored size sweeps say: the best size of each, its shape and tokens per parameter,
and how a reader's machine compares with the sweeps' (the calibration note of chapter 4).
"""

from __future__ import annotations

import math
import statistics
import textwrap

from tinylm.lab.analysis import WRAP
from tinylm.lab.results import Study

OPTIMA_COLUMNS = ["study", "params", "interior", "val_bpb", "val_ppl", "tokens_seen",
                  "tokens_per_param", "embedding_share"]
# The size chapter's table of best sizes: the sweep's thread count and the best model's width too.
SWEEP_COLUMNS = ["study", "threads", "width", "params", "interior", "val_bpb", "n", "tokens_seen",
                 "tokens_per_param", "embedding_share"]



def optimum(study: Study) -> dict:
    """The row with the lowest val_bpb."""
    return min(study.rows, key=lambda r: r["val_bpb"])


def optima(studies: list[Study]) -> list[dict]:
    """Per study: the best size, whether sizes on both sides were tried (`interior`), its score,
    how many tokens each parameter saw, and the share of its parameters in embedding tables."""
    out = []
    for s in studies:
        b = optimum(s)
        runs = [r["metrics"] for r in s.runs if r.get("recipe") == b["recipe"]]
        non_embedding = runs[0].get("params_non_embedding") if runs else None
        sizes = sorted(r["params"] for r in s.rows)
        out.append({"study": s.name, "budget_s": s.budget_s, "best_recipe": b["recipe"],
                    "width": width_of(s, b["recipe"]),
                    "threads": runs[0].get("threads") if runs else None,
                    "params": b["params"], "interior": sizes[0] < b["params"] < sizes[-1],
                    "val_bpb": b["val_bpb"], "val_ppl": b.get("val_ppl"), "n": b.get("n"),
                    "tokens_seen": b.get("tokens_seen"),
                    "tokens_per_param": (b.get("tokens_seen") or 0) / b["params"],
                    "embedding_share": 1 - non_embedding / b["params"] if non_embedding else None})
    return out


def width_of(study: Study, recipe: str) -> int | None:
    """The width a stored recipe really trained: recorded by the run where it was, else its
    spec's, else what `width="auto"` gives at the study's budget (labels such as "default" do
    not say it, and "auto" means 96 or 128 by budget)."""
    from tinylm.core.models import ModelConfig
    from tinylm.core.spec import resolve_model

    for r in study.runs:
        if r.get("recipe") == recipe:
            for width in (r["metrics"].get("width"), r.get("settings", {}).get("width")):
                if isinstance(width, int):
                    return width
    width = study.spec(recipe).get("width", "auto")
    return width if isinstance(width, int) else resolve_model(ModelConfig(head="full"), study.budget_s).width


def shape_of(study: Study, recipe: str) -> tuple[int, int, int]:
    """(width, layers, heads) a stored recipe trained: its spec over today's defaults, with the
    width from `width_of` (stored labels are in today's terms, so what they omit is a default)."""
    from tinylm.lab.recipes import defaults

    spec = {**defaults(), **study.spec(recipe)}
    return width_of(study, recipe), spec["layers"], spec["heads"]


def rows_by_width(study: Study) -> dict[int, dict]:
    """{width: summary row} of a sweep over widths (the sentences of the size chapter)."""
    return {width_of(study, r["recipe"]): r for r in study.rows}


def with_every_run(study: Study) -> Study:
    """The study with a row (means over its runs) for every recipe that has runs but no row in
    the summary: a sweep run in two invocations keeps only the second one's rows there."""
    have = {r["recipe"] for r in study.rows}
    extra = {}
    for r in study.runs:
        if r["recipe"] not in have:
            extra.setdefault(r["recipe"], []).append(r["metrics"])
    if not extra:
        return study
    rows = list(study.rows)
    for recipe, ms in extra.items():
        mean = {k: statistics.fmean(m[k] for m in ms)
                for k in ("val_loss", "val_bpb", "val_ppl", "tokens_per_s", "tokens_seen")}
        rows.append({"recipe": recipe, "params": ms[0]["params"], **mean, "n": len(ms)})
    base = next((r for r in rows if r["recipe"] == study.baseline), rows[0])
    rows = [{**r, "bpb_ratio": r["val_bpb"] / base["val_bpb"],
             "tps_ratio": r["tokens_per_s"] / base["tokens_per_s"]} for r in rows]
    rows.sort(key=lambda r: r["params"])
    return Study(study.name, {**study.summary, "rows": rows}, study.runs)


def width_rule() -> str:
    """`ModelConfig(width="auto")` in words, from the constants it reads (`tinylm/measured.py`)."""
    from tinylm.measured import NARROW_WIDTH, WIDE_FROM_S, WIDE_WIDTH

    return (f'width="auto" (the default): {NARROW_WIDTH} for budgets under {WIDE_FROM_S:g} s, '
            f"{WIDE_WIDTH} from {WIDE_FROM_S:g} s on (tinylm/measured.py: NARROW_WIDTH, "
            "WIDE_WIDTH, WIDE_FROM_S)")


def at_time(history: list[dict], seconds: float, key: str = "val_bpb") -> dict | None:
    """The last history record with `key` logged at or before `seconds` of training (where a
    run stood at that moment); None when there is none yet."""
    done = [r for r in history if r.get(key) is not None and r["elapsed_s"] <= seconds]
    return done[-1] if done else None





def closest(studies: list[Study], budget_s: float) -> Study | None:
    """The stored study whose budget is nearest (on a log scale) to `budget_s`."""
    timed = [s for s in studies if s.budget_s]
    return min(timed, key=lambda s: abs(math.log(s.budget_s / budget_s)), default=None)


def speed_factor(live: dict, stored: dict) -> float:
    """How many times faster this machine trained than the benchmark machine, same model."""
    return live["tokens_per_s"] / stored["tokens_per_s"]


def your_optimum(studies: list[Study], factor: float, budget_s: float = 300) -> dict | None:
    """The stored optimum whose budget best matches `budget_s` on a machine `factor` x as fast."""
    study = closest(studies, budget_s * factor)
    if study is None:
        return None
    return {"equivalent_budget_s": budget_s * factor, **optima([study])[0]}


def calibration(live: dict, stored: dict | None, studies: list[Study], budget_s: float = 300) -> str:
    """What a live run's speed says about this machine's five minutes, in one paragraph."""
    if not stored or not stored.get("tokens_per_s"):
        return ("No stored run of this model to compare with: this machine trained it at "
                f"{live['tokens_per_s']:,.0f} tokens/s.")
    factor = speed_factor(live, stored)
    best = your_optimum(studies, factor, budget_s)
    size = (f"width {best['width']} ({best['params']:,} parameters at {best['budget_s']:.0f} s)"
            if best.get("width") else f"{best['params']:,} parameters")
    text = (f"This machine trained the stored run's model ({stored['params']:,} parameters) at "
            f"{live['tokens_per_s']:,.0f} tokens/s, {factor:.2f} times the benchmark machine's "
            f"{stored['tokens_per_s']:,.0f}. So {budget_s:.0f} s here buy about as many tokens as "
            f"{best['equivalent_budget_s']:.0f} s there. The stored sweep closest to that "
            f"budget ({best['budget_s']:.0f} s) is {best['study']}: its best size, measured on the "
            f"benchmark machine, is {size}, val_bpb {best['val_bpb']:.3f}. By this speed "
            f"comparison, that width is the one to train here for {budget_s:.0f} s.")
    return textwrap.fill(text, WRAP)


def picks_text(calibrated: dict, yours: dict) -> str:
    """`calibrate`'s pick (its result) against the stored sweep's best for this machine
    (`your_optimum`), in sentences. Both name a width; the parameter count of one width depends
    on the budget (value tables from `measured.VALUE_EMBEDS_FROM_S`), so counts are given with
    the budget they belong to."""
    from tinylm.measured import VALUE_EMBEDS_FROM_S

    mine, budget = calibrated["choice"]["width"], calibrated["budget_s"]
    if mine != yours["width"]:
        text = (f"The two ways differ here: calibrate picked width {mine} "
                f"({calibrated['params']:,} parameters at {budget:.0f} s) from its probe and the "
                f"rule; the speed comparison points to the stored best, width {yours['width']} "
                f"({yours['params']:,} parameters at {yours['budget_s']:.0f} s). Each rests on "
                "seconds of measurement: train both, and keep the better.")
        return textwrap.fill(text, WRAP)
    text = f"Both ways point to width {mine} for {budget:.0f} s here."
    if calibrated["params"] != yours["params"]:
        tables = ((budget >= VALUE_EMBEDS_FROM_S) != (yours["budget_s"] >= VALUE_EMBEDS_FROM_S))
        text += (f" At {budget:.0f} s that width has {calibrated['params']:,} parameters; the "
                 f"stored run of it at {yours['budget_s']:.0f} s had {yours['params']:,}"
                 + (f" (the default adds value tables from {VALUE_EMBEDS_FROM_S} s on)."
                    if tables else "."))
    return textwrap.fill(text, WRAP)
