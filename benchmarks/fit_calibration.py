"""Fit the measured constants of tinylm/measured.py from the stored size sweeps (no training).

    python -m benchmarks.fit_calibration

TOKENS_PER_PARAM is in the units `calibrate` compares it with: its own *estimate* of the
tokens each parameter sees (eager probe x COMPILE_SPEEDUP x usable seconds), at each 300 s
sweep's best size, from the ladders `python -m benchmarks.calibrate_check` stored beside the
sweeps (geometric mean over them; the tokens per parameter the best runs really saw are
reported beside it). TOKENS_PER_PARAM_EXPONENT carries it to other budgets: the same estimate
at the best size of the 60 s sweep gives the power of the budget it grows with.
Compiled 300 s runs against eager 60 s runs of the same sizes
(eager-sizes-60s) give COMPILE_SPEEDUP (steady state); the first steps of all compiled runs
give COMPILE_COLD_S (the sweeps run with inductor's caches off). Names as in tinylm/measured.py.
"""

from __future__ import annotations

import json
import math
import statistics

from tinylm.lab.results import read_runs, results_dir
from tinylm.measured import TOKENS_PER_PARAM_AT_S


def runs(study: str) -> dict[str, dict]:
    """{recipe label as stored: metrics} of a study's runs (labels match across studies)."""
    return {r["recipe"]: r["metrics"] for r in read_runs(results_dir() / study)}


RULE_STUDIES = ("sizes2-300s", "threads1-sizes2-300s")  # 300 s, today's model: 2 threads, 1
SHORT_STUDY, SHORT_BUDGET_S = "sizes3-60s", 60  # today's model at 60 s, for the exponent


def estimated_tokens_per_param(studies=RULE_STUDIES) -> dict:
    """{study: calibrate's estimated tokens per parameter at the sweep's best shape}."""
    out = {}
    for study in studies:
        check = results_dir() / study / "calibrate-check.json"
        if not check.exists():
            continue
        found = json.loads(check.read_text())
        best = found["best"]
        row = next(r for r in found["ladder"] if all(r[k] == best[k] for k in best))
        out[study] = row["tokens_per_param"]
    return out


def main() -> dict:
    short, long, eager = runs("sizes-60s"), runs("sizes-300s"), runs("eager-sizes-60s")
    best = {b: min(rs.items(), key=lambda kv: kv[1]["val_bpb"]) for b, rs in ((60, short), (300, long))}
    ratio = {b: m["tokens_seen"] / m["params"] for b, (_, m) in best.items()}
    speedups = []
    for label, m in long.items():
        if label in eager and m["compiled"] and not eager[label]["compiled"]:
            steady = m["tokens_seen"] / (m["train_seconds"] - m["first_step_seconds"])
            speedups.append(steady / eager[label]["tokens_per_s"])
    compile_s = [m["first_step_seconds"] for rs in (short, long) for m in rs.values() if m["compiled"]]
    estimated = estimated_tokens_per_param()
    rule = math.exp(statistics.fmean(math.log(v) for v in estimated.values())) if estimated else None
    short_rule = estimated_tokens_per_param((SHORT_STUDY,)).get(SHORT_STUDY)
    exponent = rule and short_rule and math.log(rule / short_rule) / math.log(
        TOKENS_PER_PARAM_AT_S / SHORT_BUDGET_S)
    fit = {"best_60s": best[60][0], "best_300s": best[300][0],
           "TOKENS_PER_PARAM": rule and round(rule, 2), "estimated_at_best": estimated,
           "TOKENS_PER_PARAM_EXPONENT": exponent and round(exponent, 2),
           "estimated_at_best_60s": {SHORT_STUDY: short_rule},
           "seen_per_param_300s": round(ratio[300], 2), "seen_per_param_60s": round(ratio[60], 2),
           "COMPILE_SPEEDUP": round(statistics.median(speedups), 2),
           "COMPILE_COLD_S": round(statistics.median(compile_s), 1)}
    print(json.dumps(fit, indent=1))
    return fit


if __name__ == "__main__":
    main()
