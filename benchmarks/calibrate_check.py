"""Does `calibrate` pick a size within 3% of a stored size sweep's best? Measured, not assumed.

    python -m benchmarks.calibrate_check --study sizes-300s
    python -m benchmarks.calibrate_check --study threads1-sizes-300s --threads 1

Runs `tinylm.tuning.calibrate` on this machine for the study's budget (the eager probe takes ~15 s),
looks up the picked shape among the study's runs and writes
benchmarks/results/STUDY/calibrate-check.json: the pick, its val_bpb, the sweep's best and the
gap between them. Run it on the machine (and thread count) the sweep was measured on.
"""

from __future__ import annotations

import argparse
import json
import sys

from tinylm.core.models import ModelConfig
from tinylm.core.spec import UNTIMED_BUDGET_S, resolve_model
from tinylm.lab.results import Study, load_study, results_dir
from tinylm.tuning.calibrate import calibrate

CRITERION = 0.03  # the pick may be at most 3% worse than the sweep's best


def shape(settings: dict) -> tuple:
    """(width, layers, heads) a run trained, with width "auto" decided for its budget."""
    model = ModelConfig(family=settings.get("family", "gpt"), width=settings["width"], head="full")
    width = resolve_model(model, settings.get("budget_s") or UNTIMED_BUDGET_S).width
    return width, settings["layers"], settings["heads"]


def scores_by_shape(study: Study) -> dict[tuple, dict]:
    """The sweep's rows of the study's summary by shape: each recipe's median over its repeats,
    as the study's table reports them (a baseline beside them, gpt2, may share a shape)."""
    settings = {r["recipe"]: r["settings"] for r in study.runs}
    return {shape(settings[row["recipe"]]): row for row in study.rows
            if not row["recipe"].startswith("gpt2")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", required=True)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--save-as", default="calibrate-check.json",
                   help="file name in the study's folder (another name: a re-check that leaves "
                        "the one the rule was fitted from in place)")
    args = p.parse_args(argv)
    study = load_study(args.study)
    if study is None or not study.runs:
        print(f"error: no stored runs for study {args.study!r} in {results_dir()}", file=sys.stderr)
        return 2
    runs = scores_by_shape(study)
    best_shape, best = min(runs.items(), key=lambda kv: kv[1]["val_bpb"])
    result = calibrate(study.budget_s, threads=args.threads, device="cpu")
    picked = result["choice"]
    key = (picked["width"], picked["layers"], picked["heads"])
    found = runs.get(key)
    out = {"study": args.study, "budget_s": study.budget_s, "threads": args.threads,
           "pick": picked, "pick_val_bpb": found and found["val_bpb"],
           "best": dict(zip(("width", "layers", "heads"), best_shape)),
           "best_val_bpb": best["val_bpb"],
           "gap": found and found["val_bpb"] / best["val_bpb"] - 1, "criterion": CRITERION,
           "ladder": result["ladder"]}
    out["within_criterion"] = found is not None and out["gap"] <= CRITERION
    (results_dir() / args.study / args.save_as).write_text(json.dumps(out, indent=1))
    gap = "not in the sweep" if found is None else f"{out['gap']:+.2%}"
    print(f"{args.study}: calibrate picks {picked}, the sweep's best is {out['best']}: {gap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
