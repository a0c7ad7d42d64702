"""Run recipes side by side: same data, same validation windows, same budget, fixed seeds.

    python -m benchmarks.run --study recipe-300s --budget 300 --repeats 2 gpt2 default

Writes benchmarks/results/STUDY/: runs.jsonl (one line per run, appended as runs finish, so an
interrupted study resumes where it stopped), summary.json and summary.md (medians, spread,
ratios against the first recipe measured in the same invocation) and curves.png (val_bpb
against wall-clock time). Creates /tmp/tinylm-bench.lock while running, so other jobs on a
shared machine can wait instead of skewing the timings.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

import tinylm
from tinylm.core.schema import SCHEMA_VERSION
from tinylm.core.stories import story_scores
from tinylm.lab.recipes import parse_spec, run_spec
from tinylm.lab.results import REPO, read_runs

LOCK = Path("/tmp/tinylm-bench.lock")
# every run ends with stories from the same prompt and settings (the book shows the first),
# scored by `tinylm.core.stories` beside val_bpb
SAMPLE_PROMPT = "Once upon a time"
SAMPLE_SETTINGS = {"max_new_tokens": 120, "temperature": 0.8, "seed": 0}
STORY_SEEDS = 8


def round_robin_parser(doc: str, seconds: float, repeats: int) -> argparse.ArgumentParser:
    """The arguments every side-by-side speed study takes: its rows alternate in one process,
    `repeats` rounds of `seconds` each, so the machine's drift hits every row alike."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--seconds", type=float, default=seconds, help="per row and round")
    p.add_argument("--repeats", type=int, default=repeats, help="round-robin rounds")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--label", default="default-bf16")
    return p


def time_round_robin(rows: list[dict], args, tokens_per_step: int, ratio_key: str,
                     around=lambda row: contextlib.nullcontext()) -> None:
    """Time each row's warmed-up `step` in turn, `args.repeats` rounds of `args.seconds`
    (inside `around(row)`), then give each row its median `tokens_per_s` and `ratio_key`
    against the first row's, print them, and drop the steps (rows are then JSON)."""
    from tqdm.auto import tqdm

    from tinylm.tuning.speed import time_steps

    for _ in tqdm(range(args.repeats), desc="timing rounds"):
        for r in rows:
            with around(r):
                r["samples"].append(time_steps(r["step"], tokens_per_step, args.seconds)
                                    ["tokens_per_s"])
    base = statistics.median(rows[0]["samples"])
    print(f"{args.repeats} rounds x {args.seconds:g} s, compiled bf16, batch {args.batch_size}, "
          f"median tokens/s")
    for r in rows:
        del r["step"]
        r["tokens_per_s"] = statistics.median(r["samples"])
        r[ratio_key] = r["tokens_per_s"] / base
        print(f"  {r['label']:24s} {r['tokens_per_s']:9,.0f} "
              f"({min(r['samples']):,.0f}-{max(r['samples']):,.0f})  {r[ratio_key]:.3f}x",
              flush=True)


@contextlib.contextmanager
def bench_lock():
    """Mark the machine busy with a benchmark (other benchmarks wait for this file to go); a wrapping
    script may already hold it across several studies, then it stays the wrapper's to remove."""
    ours = not LOCK.exists()
    LOCK.write_text(str(os.getpid()))
    try:
        yield
    finally:
        if ours:
            LOCK.unlink(missing_ok=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="+", help="recipe specs, e.g. gpt2 default default:lr=0.006")
    p.add_argument("--study", required=True)
    p.add_argument("--budget", type=float, default=300)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--corpus", default="tinystories")
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--peak", action="store_true", help="also measure bf16/fp32 matmul peak")
    args = p.parse_args(argv)
    folder = Path(args.out) / args.study
    try:
        run_study(args, folder)
    except ValueError as e:  # a bad spec, data that cannot be found: one line, runs so far kept
        p.exit(2, f"benchmarks.run: {e}\n")
    return 0


def run_study(args, folder: Path) -> None:
    specs = [(spec, *parse_spec(spec)) for spec in args.recipes]
    for _label, _name, overrides in specs:  # every spec checked before the first hour is spent
        # the checks tinylm.train makes, here for every spec at once
        run_spec(overrides, corpus=args.corpus, budget_s=args.budget, seed=args.seed).validate()
    folder.mkdir(parents=True, exist_ok=True)
    done = {(r["recipe"], r["repeat"]) for r in read_runs(folder)}
    with bench_lock():
        if args.peak:
            (folder / "peak.json").write_text(json.dumps(matmul_peak(), indent=1))
        for repeat in range(args.repeats):  # interleaved, so drift hits every recipe alike
            for label, _name, overrides in specs:
                if (label, repeat) in done:
                    continue
                record = run_one(label, overrides, args, repeat)
                with open(folder / "runs.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
                m = record["metrics"]
                print(f"[{args.study}] {label} #{repeat}: val_bpb {m['val_bpb']:.4f}, "
                      f"{m['tokens_per_s']:,.0f} tok/s, {m['tokens_seen']:,} tokens", flush=True)
    summarize(folder, [s[0] for s in specs])


def run_one(label: str, overrides: dict, args, repeat: int) -> dict:
    spec = run_spec(overrides, corpus=args.corpus, budget_s=args.budget,
                    seed=args.seed + repeat).validate()
    data = tinylm.prepare(spec.data, progress=False)
    spec.model = dataclasses.replace(spec.model, vocab_size=data.vocab_size)
    torch._dynamo.reset()  # each run compiles afresh (fair), within the recompile limits
    result = tinylm.train(data, spec.model, spec.train, progress=sys.stderr.isatty())
    return {"study": args.study, "recipe": label, "spec": overrides,
            "settings": spec.settings(), "schema_version": SCHEMA_VERSION, "repeat": repeat,
            "seed": spec.train.seed, "budget_s": args.budget, "corpus": args.corpus,
            "flops_per_token": result.model.train_flops_per_token(),
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), "metrics": result.metrics,
            **stories(result.model, data.tokenizer)}


def stories(model, tokenizer) -> dict:
    """The run's stories (seeds 0 to STORY_SEEDS - 1) and their scores; "sample" is the first."""
    texts = [tinylm.generate(model, tokenizer, SAMPLE_PROMPT, **{**SAMPLE_SETTINGS, "seed": seed})
             for seed in range(STORY_SEEDS)]
    return {"sample": {"prompt": SAMPLE_PROMPT, **SAMPLE_SETTINGS, "text": texts[0]},
            "stories": {"texts": texts, **story_scores(texts)}}


def matmul_peak(n: int = 1024, seconds: float = 3.0) -> dict:
    """Achievable matmul FLOP/s on this machine, bf16 and fp32."""
    out = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            count += 1
        out[f"{name}_flops"] = 2 * n**3 * count / (time.perf_counter() - start)
    out["threads"] = torch.get_num_threads()
    return out


def summarize(folder: Path, order: list[str] | None = None) -> dict:
    runs = read_runs(folder)
    labels = order or list(dict.fromkeys(r["recipe"] for r in runs))
    labels = [lab for lab in labels if any(r["recipe"] == lab for r in runs)]
    peak = json.loads((folder / "peak.json").read_text()) if (folder / "peak.json").exists() else {}
    rows = []
    for label in labels:
        ms = [r["metrics"] for r in runs if r["recipe"] == label]
        fpt = next(r["flops_per_token"] for r in runs if r["recipe"] == label)
        med = {k: statistics.median(m[k] for m in ms) for k in
               ("val_loss", "val_bpb", "val_ppl", "tokens_per_s", "tokens_seen")}
        bpbs = [m["val_bpb"] for m in ms]
        row = {"recipe": label, "params": ms[0]["params"], **med, "n": len(ms),
               "val_bpb_min": min(bpbs), "val_bpb_max": max(bpbs), "flops_per_token": fpt}
        scored = [r["stories"] for r in runs if r["recipe"] == label and "stories" in r]
        if scored:  # the sample measures, medians over the repeats
            row.update({k: statistics.median(x[k] for x in scored)
                        for k in ("repeated_4grams", "distinct_2", "distinct_3")})
        if peak:
            row["peak_fraction_bf16"] = fpt * med["tokens_per_s"] / peak["bf16_flops"]
        rows.append(row)
    base = rows[0] if rows else None
    for row in rows:
        row["bpb_ratio"] = row["val_bpb"] / base["val_bpb"]
        row["tps_ratio"] = row["tokens_per_s"] / base["tokens_per_s"]
    summary = {"baseline": base["recipe"] if base else None, "rows": rows, "peak": peak}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    (folder / "summary.md").write_text(markdown_table(rows))
    plot_curves(runs, labels, folder / "curves.png")
    print(markdown_table(rows))
    return summary


def markdown_table(rows: list[dict]) -> str:
    head = ("| recipe | params | tokens/s | tokens | val_loss | val_bpb (min-max) | ppl | "
            "bpb vs base | tok/s vs base | n |\n|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['recipe']} | {r['params'] / 1e6:.2f}M | {r['tokens_per_s']:,.0f} | "
        f"{r['tokens_seen'] / 1e6:.2f}M | {r['val_loss']:.4f} | {r['val_bpb']:.4f} "
        f"({r['val_bpb_min']:.4f}-{r['val_bpb_max']:.4f}) | {r['val_ppl']:.2f} | "
        f"{r['bpb_ratio']:.3f} | {r['tps_ratio']:.2f}x | {r['n']} |\n" for r in rows)


def short_labels(labels: list[str]) -> dict[str, str]:
    """Legend names without the settings every recipe shares."""
    parts = {lab: lab.replace(":", ",").split(",") for lab in labels}
    common = set.intersection(*(set(p) for p in parts.values())) if len(labels) > 1 else set()
    return {lab: ",".join(x for x in p if x not in common) or p[0] for lab, p in parts.items()}


def plot_curves(runs: list[dict], labels: list[str], path: Path) -> None:
    from tinylm.notebook.display import png
    from tinylm.notebook.figures import harness_curves

    fig = harness_curves(runs, short_labels(labels), title=path.parent.name)
    path.write_bytes(png(fig, dpi=110))


if __name__ == "__main__":
    sys.exit(main())
