"""What stored studies say, as rows and sentences: effects of changes, best sizes, families,
and how a reader's machine compares. No plotting here: tables and figures are drawn from
these rows by `tinylm.notebook`, and the benchmark scripts can use them without matplotlib.
"""

from __future__ import annotations

import math
import statistics
import textwrap

from .recipes import RECIPES, changes, describe_spec, not_in_defaults
from .results import Study, load_studies, results_dir

# Printed paragraphs wrap at WRAP characters: what the book's column (about 730 px) shows of a
# monospace line, so the book shows each line as printed.
WRAP = 78

EFFECT_COLUMNS = ["study", "change", "val_bpb", "delta_bpb", "plus_minus", "n", "tps_ratio",
                  "verdict", "in_recipe"]
OPTIMA_COLUMNS = ["study", "params", "interior", "val_bpb", "val_ppl", "tokens_seen",
                  "tokens_per_param", "embedding_share"]
# The size chapter's table of best sizes: the sweep's thread count and the best model's width too.
SWEEP_COLUMNS = ["study", "threads", "width", "params", "interior", "val_bpb", "n", "tokens_seen",
                 "tokens_per_param", "embedding_share"]
FAMILY_NAMES = {"gpt": "transformer", "lstm": "LSTM", "mdlm": "diffusion (MDLM, bound)"}


# ---------------------------------------------------------------- the noise between seeds

# Repeated runs that differ by more than their seed: left out of the seed spread, with why.
NOT_SEED_REPEATS = {"recipe4-60s-coldcache": "its first run compiled from an empty cache and so "
                                             "saw a fraction of the tokens"}
UNCONFIRMED = "1 run, unconfirmed"


def repeat_spread(studies: list[Study]) -> list[dict]:
    """One row per recipe that a study ran more than once: its val_bpb values, the gap between
    the best and worst, and their standard deviation. The runs differ only by seed (and the
    machine's mood), so these rows are the noise that any verdict must beat."""
    out = []
    for s in studies:
        if s.name in NOT_SEED_REPEATS:
            continue
        per: dict[str, list[float]] = {}
        for r in s.runs:
            per.setdefault(r["recipe"], []).append(r["metrics"]["val_bpb"])
        out += [{"study": s.name, "budget_s": s.budget_s, "recipe": name, "values": vals,
                 "n": len(vals), "gap": max(vals) - min(vals), "sd": statistics.stdev(vals)}
                for name, vals in per.items() if len(vals) > 1]
    return out


def seed_noise(spread: list[dict]) -> dict[float, dict]:
    """Per budget: the pooled standard deviation of one run around its recipe's mean (`sd`),
    how many repeated recipes it pools (`recipes`), and the median and largest gap between runs
    of one recipe. The margin a difference needs follows from `sd` (see `effects`)."""
    out = {}
    for budget in sorted({r["budget_s"] for r in spread if r["budget_s"]}):
        rows = [r for r in spread if r["budget_s"] == budget]
        dof = sum(r["n"] - 1 for r in rows)
        pooled = math.sqrt(sum((r["n"] - 1) * r["sd"] ** 2 for r in rows) / dof)
        out[budget] = {"budget_s": budget, "sd": pooled,
                       "recipes": len(rows), "median_gap": statistics.median(r["gap"] for r in rows),
                       "max_gap": max(r["gap"] for r in rows)}
    return out


def noise_at(noise: dict[float, dict], budget_s: float | None) -> dict | None:
    """The seed noise measured at the budget nearest `budget_s` (on a log scale), or None."""
    if not noise or not budget_s:
        return None
    return noise[min(noise, key=lambda b: abs(math.log(b / budget_s)))]


_NOISE: dict[str, dict] = {}


def stored_noise() -> dict[float, dict]:
    """`seed_noise` of every stored study (read once per results folder)."""
    key = str(results_dir())
    if key not in _NOISE:
        _NOISE[key] = seed_noise(repeat_spread(load_studies("")))
    return _NOISE[key]


def needed_margin(sd: float, n_change: int = 1, n_base: int = 1) -> float:
    """How far apart two means of runs must land to count: twice the standard error of their
    difference, when one run deviates from its recipe's mean by `sd`."""
    return 2 * sd * math.sqrt(1 / n_change + 1 / n_base)


# ---------------------------------------------------------------- effects of recipe changes


def effects(study: Study | None, noise: dict[float, dict] | None = None) -> list[dict]:
    """Each recipe's val_bpb against the study's baseline, with a verdict.

    The margin is twice the standard error of the difference, from the larger of two spreads:
    the study's own repeats, and the seed noise measured over all stored repeats at the nearest
    budget (`noise`, default `stored_noise()`; two repeats alone often agree by luck). A change
    beyond the margin "helps" or "hurts" when both sides were repeated; with a single run on
    either side it is only "better"/"worse" and marked UNCONFIRMED. `in_recipe` says whether
    tinylm's defaults include the change ("partly: not ..." names the settings they do not).
    """
    if study is None:
        return []
    noise = stored_noise() if noise is None else noise
    measured = noise_at(noise, study.budget_s)
    per = {}
    for r in study.runs:
        per.setdefault(r["recipe"], []).append(r["metrics"]["val_bpb"])
    rows = {r["recipe"]: r for r in study.rows}
    base_name = study.baseline or (study.rows[0]["recipe"] if study.rows else None)
    if base_name not in rows:
        return []
    base_vals = per.get(base_name) or [rows[base_name]["val_bpb"]]
    base_spec = study.spec(base_name)
    out = []
    for name, row in rows.items():
        vals = per.get(name) or [row["val_bpb"]]
        delta = statistics.fmean(vals) - statistics.fmean(base_vals)
        own = 2 * math.sqrt(_var(vals) / len(vals) + _var(base_vals) / len(base_vals))
        margin = max(own, needed_margin(measured["sd"], len(vals), len(base_vals))) \
            if measured else own if len(vals) > 1 and len(base_vals) > 1 else None
        repeated = len(vals) > 1 and len(base_vals) > 1
        out.append({"study": study.name, "budget_s": study.budget_s, "recipe": name,
                    "change": describe_spec(study.spec(name), base_spec) if name != base_name
                    else name.replace(",", ", "),
                    "val_bpb": statistics.fmean(vals), "delta_bpb": delta, "plus_minus": margin,
                    "n": len(vals), "params": row.get("params"), "tps_ratio": row.get("tps_ratio"),
                    "verdict": "baseline" if name == base_name
                    else _verdict(delta, margin, repeated),
                    "in_recipe": "" if name == base_name
                    else _in_recipe(study.spec(name), base_spec)})
    return sorted(out, key=lambda r: (r["verdict"] != "baseline", r["delta_bpb"]))


def _verdict(delta: float, margin: float | None, repeated: bool) -> str:
    if margin is None:  # a single run and no measured noise to judge it by
        return UNCONFIRMED
    if abs(delta) <= margin:
        return "no clear effect"
    if repeated:
        return "helps" if delta < 0 else "hurts"
    return f"{'better' if delta < 0 else 'worse'}, {UNCONFIRMED}"


def _in_recipe(spec: dict, base: dict) -> str:
    missing, changed = not_in_defaults(spec, base), changes(spec, base)
    if not changed:
        return "(same settings)"
    if not missing:
        return "yes"
    if len(missing) == len(changed):
        return "no"
    return "partly: not " + ", ".join(f"{k}={v}" for k, v in sorted(missing.items()))


def _var(values: list[float]) -> float:
    return statistics.variance(values) if len(values) > 1 else 0.0


def flips(rows: list[dict]) -> list[dict]:
    """The changes measured in two studies or more whose difference changed sign: each as
    {"change", "rows"}. A verdict that flips between studies was never beyond the noise."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        if r["verdict"] != "baseline":
            by.setdefault(r["change"], []).append(r)
    return [{"change": c, "rows": rs} for c, rs in by.items()
            if len(rs) > 1 and min(r["delta_bpb"] for r in rs) < 0 < max(r["delta_bpb"] for r in rs)]


def flip_text(rows: list[dict]) -> str:
    """One paragraph per flipped change: its difference and margin in each study."""
    out = []
    for f in flips(rows):
        parts = "; ".join(f"{r['delta_bpb']:+.4f} {_pm(r)} in {r['study']} ({r['n']} run(s): "
                          f"{r['verdict']})" for r in f["rows"])
        out.append(textwrap.fill(f"{f['change']}: {parts}.", WRAP, subsequent_indent="  "))
    return "\n".join(out) or "No change flipped sign between the studies given."


def _pm(row: dict) -> str:
    return "(no margin)" if row["plus_minus"] is None else f"± {row['plus_minus']:.4f}"


def verdict_text(row: dict) -> str:
    """One sentence about one change, with its measured numbers."""
    budget = f", {row['budget_s']:.0f} s" if row.get("budget_s") else ""
    text = (f"{row['change']} ({row['study']}{budget}): val_bpb {row['val_bpb']:.4f}, "
            f"{row['delta_bpb']:+.4f} {_pm(row)} bits per byte against "
            f"the baseline over {row['n']} run(s): {row['verdict']}"
            + (f"; in tinylm's defaults: {row['in_recipe']}." if row.get("in_recipe") else "."))
    return textwrap.fill(text, WRAP, subsequent_indent="  ")


def find(rows: list[dict], word: str) -> list[dict]:
    """The effect rows whose recipe name or change mentions `word` (e.g. 'rotary')."""
    return [r for r in rows if word in r["recipe"] or word in r["change"]]


def verdicts(rows: list[dict], keep: tuple[str, ...] | None = None, word: str | None = None) -> str:
    """One sentence per change (optionally only some verdicts, or those mentioning `word`)."""
    rows = [r for r in (find(rows, word) if word else rows) if r["verdict"] != "baseline"
            and (keep is None or r["verdict"] in keep)]
    return "\n".join(verdict_text(r) for r in rows) or "No stored result of this kind yet."


def recipe_specs(study: Study | None) -> dict[str, dict]:
    """{recipe: overrides} of a stored study; GPT-2 vs tinylm's defaults when it is missing."""
    if study is None:
        return {name: dict(RECIPES[name]) for name in ("gpt2", "default")}
    names = [study.baseline] + [r["recipe"] for r in study.rows if r["recipe"] != study.baseline]
    return {n: study.spec(n) for n in names if n}


# ---------------------------------------------------------------- the size sweep


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
    from .models import ModelConfig

    for r in study.runs:
        if r.get("recipe") == recipe:
            for width in (r["metrics"].get("width"), r.get("settings", {}).get("width")):
                if isinstance(width, int):
                    return width
    width = study.spec(recipe).get("width", "auto")
    return width if isinstance(width, int) else ModelConfig().for_budget(study.budget_s).width


def shape_of(study: Study, recipe: str) -> tuple[int, int, int]:
    """(width, layers, heads) a stored recipe trained: its spec over today's defaults, with the
    width from `width_of` (stored labels are in today's terms, so what they omit is a default)."""
    from .recipes import defaults

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
    from .measured import NARROW_WIDTH, WIDE_FROM_S, WIDE_WIDTH

    return (f'width="auto" (the default): {NARROW_WIDTH} for budgets under {WIDE_FROM_S:g} s, '
            f"{WIDE_WIDTH} from {WIDE_FROM_S:g} s on (tinylm/measured.py: NARROW_WIDTH, "
            "WIDE_WIDTH, WIDE_FROM_S)")


def at_time(history: list[dict], seconds: float, key: str = "val_bpb") -> dict | None:
    """The last history record with `key` logged at or before `seconds` of training (where a
    run stood at that moment); None when there is none yet."""
    done = [r for r in history if r.get(key) is not None and r["elapsed_s"] <= seconds]
    return done[-1] if done else None


# ---------------------------------------------------------------- other model families


def family_rows(studies: list[Study]) -> list[dict]:
    """One row per recipe of the `families-*` studies: family, budget, size, speed, val_bpb
    (for the diffusion model an upper bound)."""
    out = []
    for s in studies:
        for r in s.rows:
            spec = s.spec(r["recipe"])
            out.append({"budget_s": s.budget_s, "family": FAMILY_NAMES[spec.get("family", "gpt")],
                        "recipe": r["recipe"], "params": r["params"],
                        "tokens_per_s": r["tokens_per_s"], "tokens_seen": r["tokens_seen"],
                        "val_bpb": r["val_bpb"], "n": r["n"]})
    return out


def family_verdicts(studies: list[Study]) -> str:
    """Per budget, each family's best run against the best transformer, in sentences."""
    rows = family_rows(studies)
    lines = []
    for budget in sorted({r["budget_s"] for r in rows}):
        here = [r for r in rows if r["budget_s"] == budget]
        best = {}
        for r in here:
            if r["family"] not in best or r["val_bpb"] < best[r["family"]]["val_bpb"]:
                best[r["family"]] = r
        ref = best.get(FAMILY_NAMES["gpt"])
        if ref is None:
            continue
        lines.append(f"{budget:.0f} s: best transformer {ref['recipe']} ({ref['params']:,} "
                     f"parameters, {ref['tokens_per_s']:,.0f} tokens/s): val_bpb "
                     f"{ref['val_bpb']:.4f}.")
        for name, r in best.items():
            if r is ref:
                continue
            change = r["val_bpb"] / ref["val_bpb"] - 1
            lines.append(f"  best {name}: {r['recipe']} ({r['params']:,} parameters, "
                         f"{r['tokens_per_s']:,.0f} tokens/s): val_bpb {r['val_bpb']:.4f}, "
                         f"{abs(change):.1%} {'lower' if change < 0 else 'higher'} than the "
                         f"transformer.")
    return "\n".join(textwrap.fill(line, WRAP, subsequent_indent="    ") for line in lines) \
        or "No stored family studies."


# ---------------------------------------------------------------- generated text


def repetition(text: str, n: int = 4) -> float:
    """Share of word n-grams that already appeared earlier in the text (0 = no loops)."""
    words = text.split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


# ---------------------------------------------------------------- the reader's own calibration


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
    from .measured import VALUE_EMBEDS_FROM_S

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
