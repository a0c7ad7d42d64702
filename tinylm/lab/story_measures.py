"""The second measure of a recipe: how its stories read, beside its bits per byte.

Bits per byte score the validation text, and a model can lower them while writing worse
stories: Goedecke found that his lowest-perplexity mixture wrote worse ones. So every harness
run also stores eight stories (same prompts and seeds for every recipe) and their scores
(`tinylm.core.stories`):

- repeated word 4-grams: the share of a story's 4-grams it has already written (a story that
  loops repeats them);
- distinct word bigrams: the share of different bigrams among all of a recipe's stories (a
  varied writer has many);
- reference bits per byte: how surprising the stories are to a tinylm trained half an hour
  (`python -m benchmarks.story_reference`): fluent stories score low.
"""

from __future__ import annotations

import json
import statistics
import textwrap

from tinylm.lab.results import Study, results_dir

STORY_COLUMNS = ["recipe", "val_bpb", "repeated_4grams", "distinct_2", "reference_bpb"]


def story_rows(study: Study | None) -> list[dict]:
    """One row per recipe of `study` whose runs stored stories: its median val_bpb and story
    scores, and the median reference bits per byte where the study was scored (else None)."""
    if study is None:
        return []
    reference = reference_per_run(study)
    rows = []
    for row in study.rows:
        if row.get("repeated_4grams") is None:
            continue
        scored = [x for run, x in zip(study.runs, reference) if run["recipe"] == row["recipe"]]
        rows.append({"recipe": row["recipe"], "val_bpb": row["val_bpb"],
                     "repeated_4grams": row["repeated_4grams"], "distinct_2": row["distinct_2"],
                     "reference_bpb": statistics.median(scored) if scored else None})
    return rows


def reference_per_run(study: Study) -> list[float]:
    """The reference bits per byte of each of `study`'s runs, in stored order ([] when the
    study was not scored, or was scored before its last runs were added)."""
    path = results_dir() / study.name / "story_reference.json"
    if not path.exists():
        return []
    runs = json.loads(path.read_text()).get("runs", [])
    return [r["reference_bpb"] for r in runs] if len(runs) == len(study.runs) else []


def reference_val_bpb(study: Study) -> float | None:
    """The reference model's own validation bits per byte, as stored beside the scores."""
    path = results_dir() / study.name / "story_reference.json"
    return json.loads(path.read_text()).get("reference_val_bpb") if path.exists() else None


def story_sentence(study: Study | None, recipe: str, against: str) -> str:
    """How `recipe`'s stories compare with `against`'s in `study`: one sentence from the stored
    scores, wrapped to 78 columns ("" when either has none, or the study was not scored)."""
    rows = {r["recipe"]: r for r in story_rows(study)}
    a, b = rows.get(recipe), rows.get(against)
    if not a or not b or a["reference_bpb"] is None or b["reference_bpb"] is None:
        return ""
    fluent = "less" if a["reference_bpb"] > b["reference_bpb"] else "as or more"
    return textwrap.fill(
        f"Its stories repeat {a['repeated_4grams']:.1%} of their word 4-grams (against "
        f"{b['repeated_4grams']:.1%}) and read {fluent} fluently to a tinylm trained for half an "
        f"hour ({a['reference_bpb']:.3f} bits per byte against {b['reference_bpb']:.3f}).", 78)
