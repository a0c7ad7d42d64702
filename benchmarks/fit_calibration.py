"""Fit the measured constants of tinylm/measured.py from the stored size sweeps (no training).

    python -m benchmarks.fit_calibration

Tokens per parameter at the best size of sizes-300s give TOKENS_PER_PARAM (sizes-60s is
reported beside it); compiled 300 s runs against eager 60 s runs of the same sizes
(eager-sizes-60s) give COMPILE_SPEEDUP (steady state); the first steps of all compiled runs
give COMPILE_COLD_S (the sweeps run with inductor's caches off). Names as in tinylm/measured.py.
"""

from __future__ import annotations

import json
import statistics

from tinylm.results import read_runs, results_dir


def runs(study: str) -> dict[str, dict]:
    """{recipe label as stored: metrics} of a study's runs (labels match across studies)."""
    return {r["recipe"]: r["metrics"] for r in read_runs(results_dir() / study)}


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
    fit = {"best_60s": best[60][0], "best_300s": best[300][0],
           "TOKENS_PER_PARAM": round(ratio[300], 2), "tokens_per_param_at_60s": round(ratio[60], 2),
           "COMPILE_SPEEDUP": round(statistics.median(speedups), 2),
           "COMPILE_COLD_S": round(statistics.median(compile_s), 1)}
    print(json.dumps(fit, indent=1))
    return fit


if __name__ == "__main__":
    main()
