"""The reference model that judges stories: a tinylm trained far longer than five minutes, kept
outside git, and the bits per byte it gives each study's stored stories.

    python -m benchmarks.story_reference train               # once: 30 min into runs/reference
    python -m benchmarks.story_reference score ngram-60s     # writes <study>/story_reference.json

A study's runs store eight stories each (`benchmarks/run.py`); `score` reads them, scores every
run's stories under the reference (`tinylm.core.stories.reference_bpb`) and stores the medians
per recipe beside its summary, with the reference's own validation score, so that a study's
table can show how fluent its stories read to a much better model, beside val_bpb.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from tqdm.auto import tqdm

import tinylm
from tinylm.core.data import token_byte_lengths
from tinylm.core.stories import reference_bpb
from tinylm.lab.results import read_runs, results_dir

REFERENCE = Path("runs/reference")
# bigger than the five-minute model, trained for half an hour: much better than any recipe here
# (a transformer alone: its judgement should not share the n-gram memory's habits)
REFERENCE_RECIPE = dict(width=192, layers=4, heads=4, ngram_order=0, budget_s=1800.0)


def train_reference(out: Path, budget_s: float) -> dict:
    data = tinylm.prepare(tinylm.DataConfig())
    settings = {**REFERENCE_RECIPE, "budget_s": budget_s}
    model = tinylm.ModelConfig(vocab_size=data.vocab_size, width=settings["width"],
                               layers=settings["layers"], heads=settings["heads"],
                               ngram_order=settings["ngram_order"])
    result = tinylm.train(data, model, tinylm.TrainConfig(budget_s=budget_s), out_dir=out)
    return result.metrics


def score_study(study: str, reference: Path, folder: Path | None = None) -> dict:
    """The reference bits per byte of every stored run's stories, in the order of the study's
    runs.jsonl (runs stored before the harness kept eight stories score their one sample), and
    each recipe's median; `tinylm.lab.story_measures` reads them beside val_bpb."""
    if not Path(reference).is_dir():
        raise ValueError(f"no reference model at {reference}: train it once with "
                         "`python -m benchmarks.story_reference train`")
    ckpt = tinylm.load(reference)
    token_bytes = token_byte_lengths(ckpt.tokenizer)
    folder = folder or results_dir() / study
    runs = read_runs(folder)
    if not runs:
        raise ValueError(f"no stored runs in {folder}")
    per_run = []
    for run in tqdm(runs, desc=f"scoring {study}'s stories"):
        texts = run.get("stories", {}).get("texts") or [run["sample"]["text"]]
        per_run.append({"recipe": run["recipe"], "reference_bpb":
                        reference_bpb(ckpt.model, ckpt.tokenizer, texts, token_bytes)})
    medians = {}
    for r in per_run:
        medians.setdefault(r["recipe"], []).append(r["reference_bpb"])
    out = {"study": study, "reference": str(reference),
           "reference_val_bpb": ckpt.metrics.get("val_bpb"), "runs": per_run,
           "rows": [{"recipe": k, "reference_bpb": statistics.median(v), "runs": len(v)}
                    for k, v in medians.items()]}
    (folder / "story_reference.json").write_text(json.dumps(out, indent=1))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the reference model (once)")
    t.add_argument("--out", type=Path, default=REFERENCE)
    t.add_argument("--budget", type=float, default=REFERENCE_RECIPE["budget_s"])
    s = sub.add_parser("score", help="score a study's stored stories under the reference")
    s.add_argument("study")
    s.add_argument("--reference", type=Path, default=REFERENCE)
    s.add_argument("--results", type=Path, default=None,
                   help="the study's folder (default: the store)")
    args = p.parse_args(argv)
    if args.command == "train":
        m = train_reference(args.out, args.budget)
        print(f"reference: val_bpb {m['val_bpb']:.4f} after {m['train_seconds']:.0f} s, "
              f"in {args.out}")
        return 0
    try:
        out = score_study(args.study, args.reference, args.results)
    except (ValueError, OSError) as e:
        p.exit(2, f"benchmarks.story_reference: {e}\n")
    for row in out["rows"]:
        print(f"{row['recipe']}: reference bits per byte {row['reference_bpb']:.4f} "
              f"({row['runs']} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
