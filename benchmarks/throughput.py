"""Implementation speed at equal model size: tokens/s of full training steps, side by side.

    python benchmarks/throughput.py --width 64 --heads 2

Same architecture (GPT-2 style and the default recipe's), same batch: fp32 eager (the baseline
implementation) against bf16 + torch.compile (tinylm's), in one process, steady state after
warm-up (compile time excluded; the trainer's own metrics include it). Writes
benchmarks/results/throughput/WIDTH.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinylm.calibrate import measure_throughput  # noqa: E402
from tinylm.model import ModelConfig  # noqa: E402
from tinylm.recipes import RECIPES  # noqa: E402

ARCH = {"gpt2": {k: RECIPES["gpt2"][k] for k in ("mlp", "norm", "positions", "tie_embeddings")},
        "default": {}}
OPTIMIZER = {"gpt2": "adamw", "default": "muon"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    rows = []
    for arch, fields in ARCH.items():
        cfg = ModelConfig(vocab_size=4096, width=args.width, heads=args.heads, **fields)
        for label, dtype, compile_ in (("fp32 eager", "float32", False),
                                       ("bf16 eager", "bfloat16", False),
                                       ("bf16 compiled", "bfloat16", True)):
            r = measure_throughput(cfg, 8, device="cpu", dtype=dtype, seconds=args.seconds,
                                   compile=compile_, optimizer=OPTIMIZER[arch])
            rows.append({"architecture": arch, "implementation": label, **r})
            print(f"{arch:8s} {label:14s} {r['tokens_per_s']:9,.0f} tok/s", flush=True)
    base = rows[0]["tokens_per_s"]
    for r in rows:
        r["ratio_vs_gpt2_fp32_eager"] = r["tokens_per_s"] / base
    out = ROOT / "benchmarks" / "results" / "throughput"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"width{args.width}.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
