"""Two recipes of one stored study, side by side, in the direction a reader asks about.

A study's verdicts are worded against its own baseline ("gpt2: +0.18 bits per byte against
the baseline" when the baseline is tinylm's default). A chapter that asks "how far did tinylm
get past GPT-2?" needs the other direction, from medians of the repeats, with the spread said.
"""

from __future__ import annotations

import math
import statistics
import textwrap

from tinylm.lab.analysis import WRAP
from tinylm.lab.noise import UNCONFIRMED, needed_margin, noise_at, stored_noise
from tinylm.lab.results import Study


def runs_of(study: Study, recipe: str) -> list[dict]:
    """The stored runs of `recipe`: its exact name (in today's terms), else the runs stored
    under that name (an older study's "default" reads "default:ngram_order=0" today), else the
    one recipe named `recipe:...` (a study may store "lstm:beta2=0.95" for the lstm recipe)."""
    names = list(dict.fromkeys(r["recipe"] for r in study.runs))
    stored = [r for r in study.runs if r.get("stored_as") == recipe]
    if recipe not in names and stored:
        return stored
    if recipe not in names:
        close = [n for n in names if n.startswith(recipe + ":")]
        if len(close) != 1:
            raise ValueError(f"{study.name} has no single recipe {recipe!r}; its recipes: "
                             f"{', '.join(names)}")
        recipe = close[0]
    return [r for r in study.runs if r["recipe"] == recipe]


def head_to_head(study: Study, recipe: str, against: str, noise: dict | None = None) -> dict:
    """`recipe` against `against` in `study`: median val_bpb of each one's runs, how much lower
    the first is (`lower`, a fraction of the second's), and the `margin` the difference must
    beat: as `analysis.effects` judges, the larger of the repeats' own spread and the seed noise
    measured over all stored repeats at this budget (`noise`, default `stored_noise()`).
    `verdict` is "lower", "higher" or "tie"; with a single run on a side, UNCONFIRMED too."""
    mine = [r["metrics"]["val_bpb"] for r in runs_of(study, recipe)]
    theirs = [r["metrics"]["val_bpb"] for r in runs_of(study, against)]
    a, b = statistics.median(mine), statistics.median(theirs)
    own = 2 * math.sqrt(_var(mine) / len(mine) + _var(theirs) / len(theirs))
    measured = noise_at(stored_noise() if noise is None else noise, study.budget_s)
    margin = max(own, needed_margin(measured["sd"], len(mine), len(theirs)) if measured else 0)
    verdict = "tie" if abs(a - b) <= margin else "lower" if a < b else "higher"
    if min(len(mine), len(theirs)) == 1:
        verdict += f", {UNCONFIRMED}"
    return {"study": study.name, "budget_s": study.budget_s, "recipe": recipe, "against": against,
            "val_bpb": a, "against_bpb": b, "n": len(mine), "against_n": len(theirs),
            "lower": 1 - a / b, "margin": margin, "verdict": verdict}


def _var(values: list[float]) -> float:
    return statistics.variance(values) if len(values) > 1 else 0.0


def head_to_head_text(row: dict, name: str, other: str) -> str:
    """The comparison as a sentence, every number from `row`, e.g. "tinylm's default reaches
    0.88 bits per byte against GPT-2's 1.06 in 300 s, 17% lower (medians of 2 runs each)"."""
    lower = row["lower"]
    n, m = row["n"], row["against_n"]
    runs = ("1 run each" if n == m == 1 else f"medians of {n} runs each" if n == m else
            f"{'1 run' if n == 1 else f'median of {n} runs'} against "
            f"{'1 run' if m == 1 else f'median of {m} runs'}")
    beyond = abs(row["val_bpb"] - row["against_bpb"]) > row["margin"]
    spread = (f"; {'beyond' if beyond else 'within'} the ±{row['margin']:.4f} that the seed alone "
              f"can move it{'' if beyond else ': a tie'}"
              + (f"; {UNCONFIRMED}" if min(row["n"], row["against_n"]) == 1 else ""))
    text = (f"{name} reaches {row['val_bpb']:.4f} bits per byte against {other}'s "
            f"{row['against_bpb']:.4f} in {row['budget_s']:.0f} s, {abs(lower):.1%} "
            f"{'lower' if lower > 0 else 'higher'} ({runs}{spread}; {row['study']}).")
    return textwrap.fill(text, WRAP)


def bytes_per_token(study: Study, recipe: str) -> float:
    """Bytes of validation text per token of the tokenizer `recipe` trained with: what turns
    its per-token perplexity into bits per byte."""
    m = runs_of(study, recipe)[0]["metrics"]
    return m["val_bytes"] / m["val_tokens"]


def best_of_family(study: Study, family: str) -> str | None:
    """The recipe of `family` ("gpt", "lstm", "mdlm") with the lowest val_bpb in `study`."""
    rows = [r for r in study.rows if study.spec(r["recipe"]).get("family", "gpt") == family]
    return min(rows, key=lambda r: r["val_bpb"])["recipe"] if rows else None


def family_matchups(studies: list[Study], family: str) -> list[dict]:
    """Per family study: its best `family` recipe against its best transformer (`head_to_head`)."""
    out = []
    for study in studies:
        mine, ref = best_of_family(study, family), best_of_family(study, "gpt")
        if mine and ref:
            out.append(head_to_head(study, mine, ref))
    return out


def measured_changes(pairs: list[tuple[str, str]]) -> list[dict]:
    """The `analysis.effects` row of each (study, change) pair, matched exactly (a substring
    would take ema_decay=0.998 for ema_decay=0.99); pairs with no stored study are left out."""
    from tinylm.lab.analysis import effects
    from tinylm.lab.results import load_study

    out = []
    for name, change in pairs:
        rows = [r for r in effects(load_study(name)) if r["change"] == change]
        out += rows[:1]
    return out
