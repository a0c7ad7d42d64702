"""Watch it learn: train the default recipe for its budget, recording the validation score and a
seeded sample at moments of the budget, and store the run for the book's timeline.

    python -m benchmarks.timeline                 # 300 s, into benchmarks/results/timeline-300s
    python -m benchmarks.timeline --budget 60 --out runs/results

The chapter reads `<out>/timeline-<budget>s/metrics.json` (`nb.load_timeline`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import tinylm
from tinylm.lab.results import results_dir

MOMENTS_S = (5, 15, 30, 60, 120, 300)  # seconds of training; those past the budget are dropped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=300.0, help="seconds of training")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: the store)")
    p.add_argument("--prompt", default="Once upon a time")
    p.add_argument("--save", type=Path, default=None, help="also keep the checkpoint folder here")
    args = p.parse_args(argv)
    moments = tuple(m for m in MOMENTS_S if m <= args.budget) or (args.budget,)
    data = tinylm.prepare(tinylm.DataConfig())
    model_cfg = tinylm.ModelConfig(vocab_size=data.vocab_size)
    # compile once outside the budget, as quickstart does: the first moments show learning,
    # not the compiler (a cold compile took over 30 s of the 300)
    tinylm.train(data, model_cfg, tinylm.TrainConfig(budget_s=args.budget, steps=1,
                                                     eval_tokens=256, final_eval_tokens=256),
                 progress=False)
    result = tinylm.train(data, model_cfg,
                          tinylm.TrainConfig(budget_s=args.budget, sample_at_s=moments,
                                             sample_prompt=args.prompt),
                          out_dir=args.save)
    folder = (args.out or results_dir()) / f"timeline-{args.budget:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in result.metrics.items() if k not in ("environment",)}
    (folder / "metrics.json").write_text(json.dumps(keep, indent=1) + "\n")
    for m in result.metrics["timeline"]:
        print(f"{m['at_s']:>5g} s  {m['val_bpb']:.3f}  {m['text'][:70]!r}")
    print(f"saved {folder / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
