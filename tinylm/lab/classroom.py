"""A class's runs in one place: the CSV a training panel exports, read back from many laptops,
checked, and pooled into one U-curve of val_bpb against parameters.

The teacher merges from a terminal (`python -m tinylm class merge`), so this is core code: no
matplotlib (the page is drawn by `tinylm.notebook.classroom`). Files come from students'
laptops and spreadsheets, so nothing is trusted: each bad file or row is skipped with a
one-line reason naming it, never merged silently; runs at another budget or corpus than the
class setting are named too, never dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import platform
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tinylm.lab.class_files import CSV_COLUMNS, CSV_NAME, read


def machine_id() -> str:
    """A short id that stays the same on this laptop and tells it from the others; a hash, so
    the teacher's page never shows a student's hostname."""
    node = f"{platform.node()}|{platform.system()}|{platform.machine()}|{platform.processor()}"
    return hashlib.sha256(node.encode()).hexdigest()[:8]


def machine_fields(calibration: dict | None = None) -> dict:
    """The MACHINE_COLUMNS of this laptop; `calibration` is what `tinylm.tuning.calibrate.calibrate`
    returned here, if the student ran it."""
    out = {"machine": machine_id()}
    if calibration:
        c = calibration["choice"]
        out.update(calibrate_params=calibration["params"],
                   calibrate_shape=f"{c['width']}x{c['layers']}x{c['heads']}",
                   calibrate_budget_s=calibration["budget_s"])
    return out


def csv_name(student: str | None = None) -> str:
    """The export's file name: tinylm-runs-<student>.csv, the name lowercased to letters, digits
    and hyphens (so forty files in one folder never overwrite each other and every system can
    hold them); tinylm-runs.csv without a name."""
    if not student or not student.strip():
        return CSV_NAME
    ascii_name = unicodedata.normalize("NFKD", student).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    if not slug:  # a name in another script: a short stable stand-in
        slug = "student-" + hashlib.sha256(student.strip().encode()).hexdigest()[:6]
    return f"tinylm-runs-{slug}.csv"


def to_csv(rows: list[dict], calibration: dict | None = None, machine: dict | None = None,
           student: str | None = None) -> str:
    """The runs as CSV text with every CSV_COLUMNS column, this laptop's fields and the
    student's name filled in (`machine` overrides them, e.g. for stored runs from elsewhere)."""
    fields = {**machine_fields(calibration), **(machine or {}), "student": (student or "").strip()}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        speed = r.get("tokens_per_s") or (r["tokens"] / r["train_s"] if r.get("train_s") else "")
        writer.writerow({**fields, **r, "tokens_per_s": round(speed, 1) if speed else ""})
    return out.getvalue()


# ---------------------------------------------------------------- reading (for the teacher)


@dataclass
class ClassRuns:
    """The merged class: `runs` (good rows, each with its `file`, `machine` and `student`),
    `skipped` (one line per bad file or row) and `notes` (what was assumed for older files).
    `corpus` and `budget_s` are the class setting the teacher asked for (None: the most common)."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the files merged (at least one run each)
    corpus: str | None = None
    budget_s: float | None = None

    @property
    def setting(self) -> tuple[str, float] | None:
        """The class setting (corpus, budget_s): only its runs are compared for the optimum (a
        U-curve needs one budget). What the teacher gave, the rest the most common among the
        runs that fit; None when no run fits a partly given setting."""
        keys = [(r["corpus"], r["budget_s"]) for r in self.runs
                if self.corpus in (None, r["corpus"]) and self.budget_s in (None, r["budget_s"])]
        if keys:
            return max(dict.fromkeys(keys), key=keys.count)
        if self.corpus is not None and self.budget_s is not None:
            return (self.corpus, float(self.budget_s))
        return None

    def setting_text(self) -> str:
        """The class setting in words, e.g. '60 s on tinystories'."""
        if self.setting is None:
            given = [f"{self.budget_s:g} s" if self.budget_s is not None else "",
                     f"on {self.corpus}" if self.corpus is not None else ""]
            return " ".join(filter(None, given)) or "none"
        return f"{self.setting[1]:g} s on {self.setting[0]}"

    def compared(self) -> list[dict]:
        return [r for r in self.runs if (r["corpus"], r["budget_s"]) == self.setting]

    def elsewhere(self) -> list[str]:
        """One line per file (and student) with runs at another setting than the class's,
        naming the runs and their setting: they are drawn, but not compared."""
        groups: dict[tuple, list[int | str]] = {}
        for r in self.runs:
            if (r["corpus"], r["budget_s"]) != self.setting:
                key = (r["file"], r.get("student") or "", r["budget_s"], r["corpus"])
                groups.setdefault(key, []).append(r["run"])
        return [f"{name}{f' ({student})' if student else ''}: run{'s' if len(runs) > 1 else ''} "
                f"{', '.join(map(str, runs))} at {budget:g} s on {corpus}, not the class setting "
                f"({self.setting_text()})"
                for (name, student, budget, corpus), runs in groups.items()]

    def curve(self) -> list[dict]:
        """The class's U-curve: per size (parameters), the median val_bpb of its runs."""
        by_size: dict[int, list[dict]] = {}
        for r in self.compared():
            by_size.setdefault(r["params"], []).append(r)
        return [{"params": p, "val_bpb": statistics.median(r["val_bpb"] for r in rs),
                 "runs": len(rs), "machines": len({r["machine"] for r in rs}),
                 "shape": shape(rs[0])} for p, rs in sorted(by_size.items())]

    def optimum(self) -> dict | None:
        """The size with the lowest median val_bpb; `interior` when sizes on both sides ran."""
        curve = self.curve()
        if not curve:
            return None
        best = min(curve, key=lambda c: c["val_bpb"])
        corpus, budget = self.setting
        return {**best, "corpus": corpus, "budget_s": budget,
                "interior": curve[0]["params"] < best["params"] < curve[-1]["params"]}

    def machines(self) -> list[dict]:
        """One row per laptop: its speed (tokens/s at the class's best size, interpolated on
        a log scale between its own runs), its best run and its calibrate pick."""
        best = self.optimum()
        out = []
        for m in dict.fromkeys(r["machine"] for r in self.runs):
            rs = [r for r in self.runs if r["machine"] == m]
            mine = [r for r in rs if (r["corpus"], r["budget_s"]) == self.setting] or rs
            top = min(mine, key=lambda r: r["val_bpb"])
            pick = next((r for r in rs if r.get("calibrate_params")), {})
            out.append({"machine": m, "files": ", ".join(dict.fromkeys(r["file"] for r in rs)),
                        "students": ", ".join(dict.fromkeys(r["student"] for r in rs
                                                            if r.get("student"))),
                        "runs": len(rs),
                        "tokens_per_s": speed_at(rs, best["params"] if best else top["params"]),
                        "best_params": top["params"], "best_shape": shape(top),
                        "best_val_bpb": top["val_bpb"],
                        "calibrate_params": pick.get("calibrate_params"),
                        "calibrate_shape": pick.get("calibrate_shape") or "",
                        "calibrate_budget_s": pick.get("calibrate_budget_s")})
        return out


def shape(row: dict) -> str:
    return f"{row['width']}x{row['layers']}x{row['heads']}"


def speed_at(rows: list[dict], params: int) -> float:
    """Tokens/s of a laptop at `params`, interpolated in log-log between its two runs around
    that size (or its nearest run's speed when the size lies outside the ones it ran)."""
    pts = sorted({r["params"]: r["tokens_per_s"] for r in rows}.items())
    below = [p for p in pts if p[0] <= params]
    above = [p for p in pts if p[0] >= params]
    if not below or not above:
        return (below or above)[-1 if below else 0][1]
    (p0, s0), (p1, s1) = below[-1], above[0]
    if p0 == p1:
        return s0
    t = math.log(params / p0) / math.log(p1 / p0)
    return math.exp(math.log(s0) + t * math.log(s1 / s0))


def merge(paths, corpus: str | None = None, budget_s: float | None = None) -> ClassRuns:
    """Read every CSV (a folder means the *.csv files in it) into one ClassRuns whose class
    setting is `corpus` and `budget_s` (None: the most common among the runs)."""
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"the class budget must be positive seconds, not {budget_s}")
    merged = ClassRuns(corpus=corpus, budget_s=None if budget_s is None else float(budget_s))
    seen: dict[str, str] = {}
    for path in expand(paths):
        name = path.name
        try:
            data = path.read_bytes()
        except OSError as e:
            merged.skipped.append(f"{name}: cannot be read ({e.strerror or e})")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            merged.skipped.append(f"{name}: the same content as {seen[digest]} (counted once)")
            continue
        seen[digest] = name
        rows, problems, notes = read(name, data)
        merged.skipped += problems
        merged.notes += notes
        if rows:
            merged.files.append(name)
            merged.runs += rows
    return merged


def expand(paths) -> list[Path]:
    """Files as given; a folder stands for the *.csv files in it, sorted."""
    out = []
    for p in map(Path, [paths] if isinstance(paths, (str, Path)) else paths):
        out += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    return out
