"""The output head alone: full softmax against the adaptive one, forward + backward, side by side.

    python -m benchmarks.head_speed --label avx2

Hidden states [batch x context, width] of the default model go through each head and its loss,
forward and backward, eager and compiled; all four are warmed up first, then timed round-robin
(`--repeats` rounds of `--steps` steps) so machine noise hits every row alike. Medians in ms,
ratios against the full head compiled. Writes benchmarks/results/head_speed/LABEL.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from benchmarks.run import bench_lock
from tinylm.core.models import ModelConfig
from tinylm.core.models.heads import AdaptiveHead
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import resolve_model
from tinylm.lab.results import REPO
from tinylm.machine.device import set_threads


def heads(cfg: ModelConfig) -> dict:
    """{name: loss function of (hidden states, targets)} for both heads."""
    full = torch.nn.Linear(cfg.width, cfg.vocab_size, bias=False)
    adaptive = AdaptiveHead(cfg.width, cfg.vocab_size, cfg.shortlist, cfg.head_tail_width)
    fns = {"full": lambda h, y: F.cross_entropy(full(h), y), "adaptive": adaptive.nll}
    out = {}
    for name, fn in fns.items():
        out[f"{name} eager"] = fn
        out[f"{name} compiled"] = torch.compile(fn, dynamic=False)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--label", required=True, help="name of the result file (the machine)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    threads = set_threads(args.threads)
    cfg = resolve_model(ModelConfig())  # the default at one minute: width 96
    n = TrainConfig.batch_size * cfg.context
    torch.manual_seed(0)
    h0, y = torch.randn(n, cfg.width), torch.randint(0, cfg.vocab_size, (n,))
    fns = heads(cfg)
    with bench_lock():
        for fn in tqdm(fns.values(), desc="warming up"):  # allocations and compiling
            fn(h0.clone().requires_grad_(), y).backward()
        ms = {name: [] for name in fns}
        for _ in tqdm(range(args.repeats), desc="timing"):
            for name, fn in fns.items():
                h = h0.clone().requires_grad_()
                start = time.perf_counter()
                for _ in range(args.steps):
                    fn(h, y).backward()
                ms[name].append((time.perf_counter() - start) / args.steps * 1000)
    base = statistics.median(ms["full compiled"])
    rows = {name: {"ms": statistics.median(v), "min": min(v), "max": max(v),
                   "vs_full_compiled": statistics.median(v) / base} for name, v in ms.items()}
    out = {"tokens": n, "width": cfg.width, "vocab": cfg.vocab_size,
           "shortlist": cfg.shortlist, "tail_width": cfg.head_tail_width,
           "threads": threads, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "rows": rows}
    folder = REPO / "benchmarks" / "results" / "head_speed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{args.label}.json").write_text(json.dumps(out, indent=1) + "\n")
    for name, r in rows.items():
        print(f"{name:>18}: {r['ms']:6.1f} ms ({r['min']:.1f}-{r['max']:.1f}), "
              f"{r['vs_full_compiled']:.2f}x the full head compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
