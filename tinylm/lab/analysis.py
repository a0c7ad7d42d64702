"""What stored studies say, as rows and sentences: effects of changes (judged against the seed
noise of `noise.py`), flipped verdicts, model families. Best sizes and the reader's calibration
are in `sweeps.py`. No plotting here: tables and figures are drawn from these rows by
`tinylm.notebook`, and the benchmark scripts can use them without matplotlib.
"""

from __future__ import annotations

import math
import statistics
import textwrap

from tinylm.lab.noise import UNCONFIRMED, needed_margin, noise_at, stored_noise
from tinylm.lab.recipes import RECIPES, changes, describe_spec, not_in_defaults
from tinylm.lab.results import Study

# Printed paragraphs wrap at WRAP characters: what the book's column (about 730 px) shows of a
# monospace line, so the book shows each line as printed.
WRAP = 78

EFFECT_COLUMNS = ["study", "change", "val_bpb", "delta_bpb", "plus_minus", "n", "tps_ratio",
                  "verdict", "in_recipe"]
FAMILY_NAMES = {"gpt": "transformer", "lstm": "LSTM", "mdlm": "diffusion (MDLM, bound)"}


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
