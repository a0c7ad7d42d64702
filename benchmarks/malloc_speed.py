"""What glibc's page faults cost a training step: its default malloc against keeping freed
blocks for reuse (`tinylm.machine.allocator`).

    python -m benchmarks.malloc_speed --repeats 10

One process builds the default model's compiled training step as the trainer does, then times
it round-robin, `--repeats` rounds of `--seconds` per row, switching malloc between rows, so
the machine's drift (large and fast on the shared VM) hits both rows alike. The "glibc
default" row sets the thresholds back to glibc's starting values (128 KiB: blocks above that
are mapped on allocation and unmapped on free) and trims the heap; glibc's own default also
raises the mmap threshold as it sees large blocks freed, but in a fresh process with that
default the step still takes ~8,300-9,000 faults (measured with `getrusage`, as here). Page
faults and kernel time per step from `getrusage`; medians and min-max, ratio against glibc's
default. Writes benchmarks/results/malloc_speed/<label>.json.
"""

from __future__ import annotations

import ctypes
import json
import resource
import statistics
import sys
import time

from tqdm.auto import tqdm

from benchmarks.run import bench_lock, round_robin_parser
from tinylm.core.models import ModelConfig
from tinylm.lab.results import REPO
from tinylm.machine import allocator
from tinylm.machine.device import set_threads
from tinylm.tuning.speed import training_step

GLIBC_START = 128 * 1024  # glibc's initial M_MMAP_THRESHOLD and M_TRIM_THRESHOLD


def use(kept: bool) -> None:
    """Switch this process between glibc's starting thresholds and tinylm's."""
    libc = ctypes.CDLL("libc.so.6")
    size = allocator.KEEP_BYTES if kept else GLIBC_START
    libc.mallopt(allocator.M_MMAP_THRESHOLD, size)
    libc.mallopt(allocator.M_TRIM_THRESHOLD, 2 * size - 1 if kept else size)
    libc.malloc_trim(0)


def timed(step, tokens_per_step: int, seconds: float) -> dict:
    """Steps for about `seconds` after two untimed ones; tokens/s, faults, kernel/user time."""
    step(), step()
    before, start, steps = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"tokens_per_s": steps * tokens_per_step / elapsed,
            "faults_per_step": (after.ru_minflt - before.ru_minflt) / steps,
            "kernel_ms_per_step": 1e3 * (after.ru_stime - before.ru_stime) / steps,
            "user_ms_per_step": 1e3 * (after.ru_utime - before.ru_utime) / steps}


def main(argv=None) -> int:
    args = round_robin_parser(__doc__, seconds=3.0, repeats=10).parse_args(argv)
    if not allocator.keep_freed_memory():
        print("malloc_speed: needs Linux with glibc (mallopt)", file=sys.stderr)
        return 2
    set_threads(None)
    rows = [{"label": "glibc default", "kept": False, "samples": []},
            {"label": "freed memory kept", "kept": True, "samples": []}]
    tokens_per_step = args.batch_size * ModelConfig.context
    with bench_lock():
        step, model = training_step(ModelConfig(), args.batch_size, "cpu", "auto", True)
        for _ in tqdm(range(args.repeats), desc="timing rounds"):
            for r in rows:
                use(r["kept"])
                r["samples"].append(timed(step, tokens_per_step, args.seconds))
    use(True)
    base = statistics.median(s["tokens_per_s"] for s in rows[0]["samples"])
    print(f"{args.repeats} rounds x {args.seconds:g} s per row, compiled default step, "
          f"batch {args.batch_size}, {model.cfg.head} head")
    for r in rows:
        for key in ("tokens_per_s", "faults_per_step", "kernel_ms_per_step", "user_ms_per_step"):
            r[key] = statistics.median(s[key] for s in r["samples"])
        r["ratio_vs_default"] = r["tokens_per_s"] / base
        speeds = [s["tokens_per_s"] for s in r["samples"]]
        print(f"  {r['label']:18s} {r['tokens_per_s']:8,.0f} tok/s ({min(speeds):,.0f}-"
              f"{max(speeds):,.0f})  {r['ratio_vs_default']:.3f}x  "
              f"{r['faults_per_step']:7,.0f} faults/step  {r['kernel_ms_per_step']:5.1f} ms "
              f"kernel/step", flush=True)
    per_round = [k["tokens_per_s"] / d["tokens_per_s"]
                 for d, k in zip(rows[0]["samples"], rows[1]["samples"])]
    print(f"  per-round ratio: median {statistics.median(per_round):.3f}x "
          f"({min(per_round):.3f}-{max(per_round):.3f})")
    out = REPO / "benchmarks" / "results" / "malloc_speed"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"batch_size": args.batch_size, "seconds": args.seconds, "repeats": args.repeats,
            "compiled": True, "head": model.cfg.head, "per_round_ratio": per_round}
    (out / f"{args.label}.json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
