"""How OpenMP's idle threads wait, on a quiet machine and beside a busy core.

    python -m benchmarks.omp_wait [--spins 10000,...] [--rounds 2] [--steps 40] [--label NAME]

Between two kernels of a step, torch's OpenMP threads either spin (fast to wake, but they
burn a core another program may need) or sleep (`OMP_WAIT_POLICY=PASSIVE`). libgomp reads the
setting once, when torch loads it, so each variant is timed in a fresh process: the trainer's
compiled step (`tinylm.tuning.speed.training_step`, batch 8, the 60-second default shape), median
ms per step, first quiet and then with one core kept busy by another process (a student's
browser, a second notebook). Rounds alternate the variants' order. Writes
benchmarks/results/omp_wait/LABEL.json (holds the benchmark lock, like run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from tqdm.auto import tqdm

from benchmarks.run import bench_lock
from tinylm.lab.results import REPO

BASE_VARIANTS = {  # the OpenMP environment each variant starts with (libgomp's names)
    "libgomp default": {},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "tinylm's choice": None,  # nothing set, tinylm imported first: tinylm/machine/openmp.py decides
}
OMP_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# torch is imported first (unless tinylm is to choose), so libgomp starts with exactly the
# variant's environment
CHILD = """
import json, statistics, sys, time
if sys.argv[2] == "torch first":
    import torch
import tinylm
from tinylm.tuning.speed import training_step
step, model = training_step(tinylm.ModelConfig(width=96), batch_size=8, compile=True)
for _ in range(5):
    step()
times = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
print(json.dumps({"step_ms": 1e3 * statistics.median(times), "chosen": tinylm.machine.openmp.chosen}))
"""
BUSY = "while True: pass"  # one core's worth of someone else's work


def step_ms(variant: dict | None, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in OMP_KEYS} | (variant or {})
    order = "torch first" if variant is not None else "tinylm first"
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps), order], env=env, cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["step_ms"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--spins", default="10000", help="GOMP_SPINCOUNT values to time, a,b,...")
    p.add_argument("--label", default="summary")
    args = p.parse_args(argv)
    variants = BASE_VARIANTS | {f"GOMP_SPINCOUNT={n}": {"GOMP_SPINCOUNT": n}
                                for n in args.spins.split(",") if n}
    ms = {cond: {name: [] for name in variants} for cond in ("quiet", "one core busy")}
    with bench_lock():
        for cond in ms:
            busy = subprocess.Popen([sys.executable, "-c", BUSY]) if cond != "quiet" else None
            try:
                for r in tqdm(range(args.rounds), desc=cond):
                    names = list(variants) if r % 2 == 0 else list(variants)[::-1]
                    for name in names:
                        ms[cond][name].append(step_ms(variants[name], args.steps))
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    median = {c: {n: statistics.median(v) for n, v in rows.items()} for c, rows in ms.items()}
    result = {"variants": variants, "steps": args.steps, "step_ms": ms, "median_ms": median,
              "vs_default": {c: {n: m / row["libgomp default"] for n, m in row.items()}
                             for c, row in median.items()}}
    for cond, row in median.items():
        print(cond + ": " + ", ".join(f"{n} {m:.1f} ms" for n, m in row.items()))
    out = REPO / "benchmarks" / "results" / "omp_wait"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.label}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
