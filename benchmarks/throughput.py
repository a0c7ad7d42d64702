"""Implementation speed at equal model size: tokens/s of full training steps, side by side.

    python -m benchmarks.throughput --width 64 --layers 5 --heads 2 --repeats 5

Two architectures (GPT-2 style with AdamW, and the default recipe's with Muon) at the same width,
each run three ways: fp32 eager (the baseline implementation, as in Goedecke's experiment), bf16
eager, and bf16 + torch.compile (tinylm's). All six training steps are built and warmed up
first (compile time excluded; the trainer's own metrics include it), then timed round-robin,
`--repeats` rounds of `--seconds` each, so machine noise hits every row alike; medians and
min-max are reported, with ratios against the baseline. Writes
benchmarks/results/throughput/layersL-widthW-headsH.json (holds the benchmark lock, like run.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from tqdm.auto import tqdm

from benchmarks.run import bench_lock
from tinylm.core.models import ModelConfig
from tinylm.core.spec import resolve_model
from tinylm.lab.recipes import RECIPES
from tinylm.lab.results import REPO
from tinylm.machine.device import set_threads
from tinylm.tuning.speed import time_steps, training_step

ARCH = {"gpt2": {k: RECIPES["gpt2"][k] for k in ("mlp", "norm", "positions", "tie_embeddings")},
        "default": {}}
OPTIMIZER = {"gpt2": "adamw", "default": "muon"}
IMPLEMENTATIONS = (("fp32 eager", "float32", False), ("bf16 eager", "bfloat16", False),
                   ("bf16 compiled", "bfloat16", True))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=resolve_model(ModelConfig()).width)
    p.add_argument("--layers", type=int, default=ModelConfig.layers)
    p.add_argument("--heads", type=int, default=ModelConfig.heads)
    p.add_argument("--context", type=int, default=ModelConfig.context)
    p.add_argument("--seconds", type=float, default=4.0, help="per row and round")
    p.add_argument("--repeats", type=int, default=5, help="round-robin rounds")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)
    set_threads(None)
    with bench_lock():
        rows = []
        for arch, fields in ARCH.items():
            cfg = ModelConfig(vocab_size=4096, width=args.width, layers=args.layers,
                              heads=args.heads, context=args.context, **fields)
            for label, dtype, compile_ in tqdm(IMPLEMENTATIONS, desc=f"building {arch}"):
                step, model = training_step(cfg, args.batch_size, "cpu", dtype, compile_,
                                            OPTIMIZER[arch])
                rows.append({"architecture": arch, "optimizer": OPTIMIZER[arch],
                             "implementation": label, "params": model.num_params(),
                             "step": step, "samples": []})
        tokens_per_step = args.batch_size * args.context
        for _ in tqdm(range(args.repeats), desc="timing rounds"):
            for r in rows:
                r["samples"].append(time_steps(r["step"], tokens_per_step, args.seconds)
                                    ["tokens_per_s"])
    base = statistics.median(rows[0]["samples"])
    shape = f"{args.layers} layers x width {args.width}, {args.heads} heads, context {args.context}"
    print(f"{shape}, {args.repeats} rounds x {args.seconds:g} s, median tokens/s")
    for r in rows:
        del r["step"]
        r["tokens_per_s"] = statistics.median(r["samples"])
        r["ratio_vs_gpt2_fp32_eager"] = r["tokens_per_s"] / base
        print(f"  {r['architecture']:8s} {r['implementation']:14s} {r['tokens_per_s']:9,.0f} "
              f"({min(r['samples']):,.0f}-{max(r['samples']):,.0f})  "
              f"{r['ratio_vs_gpt2_fp32_eager']:.2f}x", flush=True)
    for arch in ARCH:
        same = {r["implementation"]: r["tokens_per_s"] for r in rows if r["architecture"] == arch}
        print(f"  {arch}: bf16 compiled / fp32 eager = "
              f"{same['bf16 compiled'] / same['fp32 eager']:.2f}x (same model, implementation only)")
    out = REPO / "benchmarks" / "results" / "throughput"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"width": args.width, "layers": args.layers, "heads": args.heads,
            "context": args.context, "batch_size": args.batch_size,
            "seconds": args.seconds, "repeats": args.repeats}
    name = f"layers{args.layers}-width{args.width}-heads{args.heads}"
    name += f"-context{args.context}" if args.context != ModelConfig.context else ""
    (out / f"{name}.json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
