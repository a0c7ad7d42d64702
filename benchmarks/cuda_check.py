"""The CUDA check: on a machine with an NVIDIA GPU, what `calibrate` picks, the tokens per
second and the score of the recommended five-minute run.

On the GPU machine (its `python3` already has torch, tokenizers, filelock, safetensors;
nothing can be downloaded there), from the repository root, with the data carried along:

    mkdir -p .gpu && cp -r ../shared/data/tinystories .gpu/ && echo /.gpu/ >> .git/info/exclude
    PYTHONPATH=. TINYLM_DATA_DIR=.gpu python3 -m benchmarks.cuda_check --out $OUT

For each budget (300 then 60 s) it runs `calibrate` (device, batch, learning rate and size,
measured there), trains that pick for the budget exactly as `train --size auto` would, and
writes `cuda-check.json`: the GPU, whether bf16 is native, calibrate's ladder, and each run's
val_bpb, tokens/s and tokens. About 7 minutes on one GPU with both budgets. Copy the file to
benchmarks/results/cuda/ and describe it in benchmarks/LOG.md.

`--allow-cpu` runs the same steps on a machine without a GPU (the test does, tiny).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from tinylm.cli.main import main as tinylm_main
from tinylm.machine.device import cuda_has_native_bf16
from tinylm.tuning.calibrate import calibrate, train_settings

KEPT_METRICS = ("status", "val_bpb", "val_loss", "val_ppl", "tokens_per_s", "tokens_seen",
                "steps", "params", "width", "head", "value_embeds", "device", "dtype", "compiled",
                "first_step_seconds", "train_seconds", "torch_version")


def gpu_facts() -> dict:
    """The machine the numbers belong to."""
    facts = {"torch": torch.__version__, "python": platform.python_version(),
             "cuda": torch.cuda.is_available()}
    if facts["cuda"]:
        dev = torch.device("cuda")
        facts.update(name=torch.cuda.get_device_name(dev),
                     capability=".".join(map(str, torch.cuda.get_device_capability(dev))),
                     bf16_native=cuda_has_native_bf16(dev),
                     memory_gib=round(torch.cuda.get_device_properties(dev).total_memory / 2**30,
                                      1))
    return facts


def train_pick(budget_s: float, pick: dict, extra: list[str], out_dir: Path) -> dict:
    """Train calibrate's pick through the CLI, as a student's `train --size auto` would."""
    argv = ["train", "--budget", str(budget_s), "--quiet", "--out", str(out_dir)]
    for key, value in train_settings(pick).items():  # what `--size auto` trains from the pick
        argv += ["--" + key.replace("_", "-"), str(value)]
    argv += extra
    started = time.perf_counter()
    code = tinylm_main(argv)
    wall = time.perf_counter() - started
    metrics = json.loads((out_dir / "metrics.json").read_text()) if code == 0 else {}
    kept = {k: metrics[k] for k in KEPT_METRICS if k in metrics}
    return {"argv": argv, "exit_code": code, "wall_s": round(wall, 1), **kept}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budgets", default="300,60", help="comma-separated seconds, in order")
    p.add_argument("--out", default=os.environ.get("OUT", "benchmarks/results/cuda"),
                   help="folder for cuda-check.json (default: $OUT on the device machine)")
    p.add_argument("--allow-cpu", action="store_true", help="run without a GPU (a smoke test)")
    p.add_argument("extra", nargs="*", help="more `train` flags after --, e.g. -- --vocab 512")
    args = p.parse_args(argv)
    facts = gpu_facts()
    if not facts["cuda"] and not args.allow_cpu:
        print("error: no CUDA GPU here; run this on a machine with an NVIDIA GPU (or pass --allow-cpu "
              "for a smoke test)", file=sys.stderr)
        return 2
    try:
        budgets = [float(b) for b in args.budgets.split(",")]
    except ValueError:
        print(f"error: --budgets must be numbers of seconds like 300,60, got {args.budgets!r}",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"machine": facts, "runs": []}
    for budget in budgets:
        pick = calibrate(budget, progress=False)  # with the device and batch measurements
        with tempfile.TemporaryDirectory() as tmp:
            run = train_pick(budget, pick, args.extra, Path(tmp) / "run")
        report["runs"].append({"budget_s": budget, "calibrate": pick, "train": run})
        (out / "cuda-check.json").write_text(json.dumps(report, indent=1))  # after every run
        print(f"{budget:g} s: {pick['device']} batch {pick['batch_size']} {pick['choice']}: "
              f"val_bpb {run.get('val_bpb', float('nan')):.4f} at "
              f"{run.get('tokens_per_s', 0):,.0f} tok/s", flush=True)
    return 0 if all(r["train"]["exit_code"] == 0 for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
