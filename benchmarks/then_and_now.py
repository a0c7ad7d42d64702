"""Today's training step against an earlier commit's, side by side: same machine, same hour.

    python -m benchmarks.then_and_now --commit 7eb7cd7 [--rounds 3] [--steps 60]

The machine's own speed drifts by 30-50% between hours with the same code, so a speed-up is
only a ratio inside one invocation. Each round times both versions, each in a fresh process
(the commit unpacked with `git archive` and imported ahead of this checkout), as their trainer
builds the step (`training_step`: compiled, the trainer's dtype, batch 8, random tokens), at
the shape both call default at one minute (2 x 96); rounds alternate which goes first. Writes
benchmarks/results/then_and_now/COMMIT.json (holds the benchmark lock, like run.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from tqdm.auto import tqdm

from benchmarks.run import bench_lock
from tinylm.lab.results import REPO

# Runs in the child, with the version's folder first on sys.path; torch is loaded first, so
# both versions' OpenMP threads wait as this process's tinylm chose (older versions set their
# own). training_step moved from tinylm.tuning.calibrate to tinylm.tuning.speed; both build and warm the
# trainer's step.
CHILD = """
import json, statistics, sys, time
import torch
sys.path.insert(0, sys.argv[1])
import tinylm
try:
    from tinylm.tuning.speed import training_step
except ImportError:
    from tinylm.tuning.calibrate import training_step
cfg, steps = tinylm.ModelConfig(width=96), int(sys.argv[2])
assert tinylm.__file__.startswith(sys.argv[1]), tinylm.__file__
step, model = training_step(cfg, batch_size=8, compile=True)
for _ in range(5):
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
ms = 1e3 * statistics.median(times)
print(json.dumps({"step_ms": ms, "tokens_per_s": 8 * cfg.context / (ms / 1e3),
                  "params": sum(p.numel() for p in model.parameters())}))
"""


def unpack(commit: str, into: Path) -> Path:
    """The commit's files in `into` (no checkout of this repository is touched)."""
    tar = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into


def time_version(root: Path, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(steps)], check=True,
                         capture_output=True, text=True, cwd=root).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commit", required=True, help="the earlier commit (any git revision)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args(argv)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.commit],
                            check=True, capture_output=True, text=True).stdout.strip()
    runs = {"then": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp, bench_lock():
        roots = {"then": unpack(commit, Path(tmp)), "now": REPO}
        for r in tqdm(range(args.rounds), desc="rounds (each: both versions)"):
            for version in (("then", "now") if r % 2 == 0 else ("now", "then")):
                runs[version].append(time_version(roots[version], args.steps))
    median = {v: statistics.median(x["tokens_per_s"] for x in rows) for v, rows in runs.items()}
    result = {"commit": commit, "shape": "2 x 96, batch 8 x 256, compiled", "steps": args.steps,
              "runs": runs, "median_tokens_per_s": median,
              "speedup": median["now"] / median["then"]}
    print(f"then ({commit}) {median['then']:,.0f} tok/s, now {median['now']:,.0f} tok/s: "
          f"{result['speedup']:.2f}x")
    out = REPO / "benchmarks" / "results" / "then_and_now"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{commit}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
