"""The store of benchmark results: `benchmarks/results/<study>/` (or `$TINYLM_RESULTS_DIR`).

A study folder holds `runs.jsonl` (one line per run, with its history and complete settings)
and `summary.json` (one row per recipe). The harness, the reports and the book all read it
through here, so there is one reader. Nothing here draws or displays: a missing study is
`None` plus a message for an optional `warn` callable (the notebook layer shows it as a note).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinylm.core.schema import ADDED, SCHEMA_VERSION
from tinylm.lab.recipes import RECIPES, label, overrides

REPO = Path(__file__).resolve().parents[2]
HARNESS = "benchmarks.run"  # run as `python -m benchmarks.run` from REPO
HOW_TO_MEASURE = ("Measure it with the benchmark harness (a chapter's RECOMPUTE switch shows the "
                  "command), then run this cell again.")
# studies the harness can measure before anything is stored: {name: harness arguments}
KNOWN_STUDIES = {"recipe-300s": ["--budget", "300", "--repeats", "2", "gpt2", "default"]}

Warn = Callable[[str], None]


INSTALLED = Path(__file__).resolve().parents[1] / "stored_results"  # the wheel's copy (setup.py)


def results_dir() -> Path:
    """$TINYLM_RESULTS_DIR, else the checkout's benchmarks/results, else the copy a wheel
    carries (Colab installs tinylm without the repository)."""
    if os.environ.get("TINYLM_RESULTS_DIR"):
        return Path(os.environ["TINYLM_RESULTS_DIR"])
    checkout = REPO / "benchmarks" / "results"
    return checkout if checkout.is_dir() or not INSTALLED.is_dir() else INSTALLED


def use_results(folder: str | Path) -> None:
    """Read stored results from `folder` (relative to the repository) from now on."""
    os.environ["TINYLM_RESULTS_DIR"] = str(REPO / folder)


@dataclass
class Study:
    """One benchmark study: its summary (one row per recipe) and every run (with histories)."""

    name: str
    summary: dict
    runs: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> list[dict]:
        return self.summary.get("rows", [])

    @property
    def baseline(self) -> str | None:
        return self.summary.get("baseline")

    @property
    def budget_s(self) -> float | None:
        budgets = {r.get("budget_s") for r in self.runs if r.get("budget_s")}
        if len(budgets) == 1:
            return float(budgets.pop())
        digits = "".join(c for c in self.name.rsplit("-", 1)[-1] if c.isdigit())
        return float(digits) if digits else None

    def spec(self, recipe: str) -> dict:
        """The overrides against today's defaults that reproduce a recipe's runs ({} when
        unknown). Runs store their complete settings, so an old study keeps its meaning when
        the defaults move."""
        for r in self.runs:
            if r.get("recipe") == recipe:
                return overrides(r["settings"]) if "settings" in r else dict(r.get("spec") or {})
        return {}

    def histories(self, recipe: str) -> list[list[dict]]:
        return [r["metrics"].get("history", []) for r in self.runs if r.get("recipe") == recipe]


def read_runs(folder: Path) -> list[dict]:
    """Every run stored in `folder/runs.jsonl` ([] when there is none yet), its settings in
    today's schema: settings added since a run was stored get the value it ran with
    (`schema.ADDED`); retired options stay, so its label still names them."""
    path = Path(folder) / "runs.jsonl"
    if not path.exists():
        return []
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for r in runs:
        if "settings" in r and r.get("schema_version", 1) < SCHEMA_VERSION:
            r["settings"] = {**ADDED, **r["settings"]}
    return runs


def read_study(folder: Path) -> Study | None:
    """The study in `folder` with its recipes labelled as stored (None without a summary)."""
    path = Path(folder) / "summary.json"
    if not path.exists():
        return None
    return Study(Path(folder).name, json.loads(path.read_text()), read_runs(folder))


def load_study(name: str, warn: Warn | None = None) -> Study | None:
    """A stored study in today's terms, or None (after telling `warn` how to produce it)."""
    study = read_study(results_dir() / name)
    if study is None:
        if warn is not None:
            warn(f"No stored results for study '{name}' yet "
                 f"({_rel(results_dir() / name / 'summary.json')} is missing). {HOW_TO_MEASURE}")
        return None
    return _in_todays_terms(study)


def load_studies(*prefixes: str, warn: Warn | None = None) -> list[Study]:
    """Every stored study whose name starts with one of `prefixes`, by budget then name."""
    names = sorted({p.parent.name for prefix in prefixes
                    for p in results_dir().glob(f"{prefix}*/summary.json")})
    studies = [s for s in map(load_study, names) if s is not None]
    if not studies and warn is not None:
        wanted = ", ".join(f"'{p}*'" for p in prefixes)
        warn(f"No stored results for studies {wanted} yet (looked in {_rel(results_dir())}). "
             + HOW_TO_MEASURE.replace("Measure it", "Measure them"))
    return sorted(studies, key=lambda s: (s.budget_s or 0, s.name))


CHECK_COLUMNS = ["study", "budget_s", "threads", "pick", "pick_val_bpb", "best", "best_val_bpb",
                 "gap", "within_criterion"]


def calibrate_checks(*names: str, file: str = "calibrate-check.json") -> list[dict]:
    """What `python -m benchmarks.calibrate_check` found for these studies: calibrate's pick on
    the sweep's machine, the sweep's best and the gap; one row each (studies not checked yet are
    left out). Shapes are shown as WIDTHxLAYERSxHEADS. `file`: the check's file in the study's
    folder (`--save-as calibrate-recheck.json` stores a later check beside the first)."""
    rows = []
    for name in names:
        f = results_dir() / name / file
        if f.exists():
            row = json.loads(f.read_text())
            for key in ("pick", "best"):
                row[key] = "x".join(str(row[key][k]) for k in ("width", "layers", "heads"))
            rows.append({k: row.get(k) for k in CHECK_COLUMNS})
    return rows


def _in_todays_terms(study: Study) -> Study:
    """Relabel a study's recipes with specs that mean the same runs under today's defaults.

    A label is typed relative to the defaults of its day ("default" was 5 layers x 64 once);
    runs that store their complete settings are renamed so tables, plots and recomputation
    all describe what actually ran."""
    names = {}
    for r in study.runs:
        if "settings" in r and r["recipe"] not in names:
            name = r["recipe"].partition(":")[0]
            names[r["recipe"]] = label(name if name in RECIPES else "default", r["settings"])
    if not names:
        return study
    # each run keeps the label it was stored under ("default" then), for readers that ask
    # for a study's own default (`head_to_head.runs_of`)
    runs = [{**r, "recipe": names.get(r["recipe"], r["recipe"]), "stored_as": r["recipe"]}
            for r in study.runs]
    summary = dict(study.summary)
    summary["rows"] = [{**row, "recipe": names.get(row["recipe"], row["recipe"])}
                       for row in study.rows]
    if summary.get("baseline"):
        summary["baseline"] = names.get(summary["baseline"], summary["baseline"])
    return Study(study.name, summary, runs)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def harness_commands(studies: list[str], out: str = "runs/results") -> list[list[str]]:
    """Command lines of the benchmark harness (`python -m benchmarks.run`, to run with
    cwd=REPO) that measure the named studies (or name prefixes) again, into `out`, with the
    recipes, budget and repeats of the stored runs."""
    commands = []
    for key in studies:
        for study in load_studies(key) or ([Study(key, {})] if key in KNOWN_STUDIES else []):
            if study.runs:
                labels = list(dict.fromkeys(r["recipe"] for r in study.runs))
                repeats = 1 + max(r.get("repeat", 0) for r in study.runs)
                corpus = study.runs[0].get("corpus", "tinystories")
                args = ["--budget", f"{study.budget_s:g}", "--repeats", str(repeats),
                        "--corpus", corpus, *labels]
            elif study.name in KNOWN_STUDIES:
                args = KNOWN_STUDIES[study.name]
            else:
                continue
            commands.append([sys.executable, "-m", HARNESS, "--study", study.name, *args,
                             "--out", out])
    return commands
