"""The noise between seeds: how far two runs of the same recipe land apart, pooled per budget
from every stored study that repeated a recipe, and the margin a difference must beat.

A verdict on a change is only as good as the noise it is judged against; this is measured,
not assumed (`analysis.effects` uses it).
"""

from __future__ import annotations

import math
import statistics

from tinylm.lab.results import Study, load_studies, results_dir

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
