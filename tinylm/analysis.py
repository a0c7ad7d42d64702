"""What stored studies say, as rows and sentences: effects of changes, best sizes, families,
and how a reader's machine compares. No plotting here: tables and figures are drawn from
these rows by `tinylm.notebook`, and the benchmark scripts can use them without matplotlib.
"""

from __future__ import annotations

import math
import statistics
import textwrap

from .recipes import RECIPES, describe_spec, in_defaults
from .results import Study

# Printed paragraphs wrap at WRAP characters: what the book's column (about 730 px) shows of a
# monospace line, so the book shows each line as printed.
WRAP = 78

EFFECT_COLUMNS = ["study", "change", "val_bpb", "delta_bpb", "plus_minus", "n", "tps_ratio",
                  "verdict", "in_recipe"]
OPTIMA_COLUMNS = ["study", "params", "interior", "val_bpb", "val_ppl", "tokens_seen",
                  "tokens_per_param", "embedding_share"]
FAMILY_NAMES = {"gpt": "transformer", "lstm": "LSTM", "mdlm": "diffusion (MDLM, bound)"}


# ---------------------------------------------------------------- effects of recipe changes


def effects(study: Study | None, tolerance: float = 0.01) -> list[dict]:
    """Each recipe's val_bpb against the study's baseline, with a verdict.

    A change "helps" or "hurts" when its mean difference exceeds twice the combined standard
    error of the repeats, or `tolerance` bits per byte when there is only one run of each.
    `in_recipe` says whether tinylm's default settings include the change.
    """
    if study is None:
        return []
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
        se = math.sqrt(_var(vals) / len(vals) + _var(base_vals) / len(base_vals))
        margin = 2 * se if len(vals) > 1 and len(base_vals) > 1 else tolerance
        verdict = ("baseline" if name == base_name else "helps" if delta < -margin
                   else "hurts" if delta > margin else "no clear effect")
        out.append({"study": study.name, "budget_s": study.budget_s, "recipe": name,
                    "change": describe_spec(study.spec(name), base_spec) if name != base_name
                    else name.replace(",", ", "),
                    "val_bpb": statistics.fmean(vals), "delta_bpb": delta, "plus_minus": margin,
                    "n": len(vals), "params": row.get("params"), "tps_ratio": row.get("tps_ratio"),
                    "verdict": verdict,
                    "in_recipe": "" if name == base_name else
                    "yes" if in_defaults(study.spec(name), base_spec) else "no"})
    return sorted(out, key=lambda r: (r["verdict"] != "baseline", r["delta_bpb"]))


def _var(values: list[float]) -> float:
    return statistics.variance(values) if len(values) > 1 else 0.0


def verdict_text(row: dict) -> str:
    """One sentence about one change, with its measured numbers."""
    budget = f", {row['budget_s']:.0f} s" if row.get("budget_s") else ""
    text = (f"{row['change']} ({row['study']}{budget}): val_bpb {row['val_bpb']:.4f}, "
            f"{row['delta_bpb']:+.4f} ± {row['plus_minus']:.4f} bits per byte against "
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
                    "params": b["params"], "interior": sizes[0] < b["params"] < sizes[-1],
                    "val_bpb": b["val_bpb"], "val_ppl": b.get("val_ppl"),
                    "tokens_seen": b.get("tokens_seen"),
                    "tokens_per_param": (b.get("tokens_seen") or 0) / b["params"],
                    "embedding_share": 1 - non_embedding / b["params"] if non_embedding else None})
    return out


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
    text = (f"This machine trained the model at {live['tokens_per_s']:,.0f} tokens/s, {factor:.2f} "
            f"times the benchmark machine's {stored['tokens_per_s']:,.0f}. So {budget_s:.0f} s here "
            f"buy about as many tokens as {best['equivalent_budget_s']:.0f} s there; the closest "
            f"stored sweep ({best['budget_s']:.0f} s) puts the best size at {best['params']:,} "
            f"parameters ({best['best_recipe']}, val_bpb {best['val_bpb']:.3f}).")
    return textwrap.fill(text, WRAP)
