"""A class's runs in one place: the CSV a training panel exports, read back from many laptops,
checked, and pooled into one U-curve of val_bpb against parameters.

The teacher merges from a terminal (`python -m tinylm class merge`), so this is core code: no
matplotlib (the page is drawn by `tinylm.notebook.classroom`). Files come from students'
laptops and spreadsheets, so nothing is trusted: each bad file or row is skipped with a
one-line reason naming it, never merged silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path

# One row per finished run of the training panel (`tinylm.notebook.panels.results.result_row`).
RESULT_COLUMNS = ("run", "corpus", "vocab", "width", "layers", "heads", "context", "batch_size",
                  "lr", "budget_s", "train_s", "tokens", "params", "val_bpb", "val_ppl", "status")
# Which laptop ran it and how fast, and the size `tinylm.calibrate` picked there (if it ran).
# CSVs exported before these columns existed merge too: tokens/s from tokens and train_s, and
# the whole file counts as one laptop.
MACHINE_COLUMNS = ("machine", "tokens_per_s", "calibrate_params", "calibrate_shape",
                   "calibrate_budget_s")
CSV_COLUMNS = RESULT_COLUMNS + MACHINE_COLUMNS
NUMBERS = {"vocab": int, "width": int, "layers": int, "heads": int, "context": int,
           "batch_size": int, "lr": float, "budget_s": float, "train_s": float, "tokens": int,
           "params": int, "val_bpb": float, "val_ppl": float, "tokens_per_s": float,
           "calibrate_params": int, "calibrate_budget_s": float}


# ---------------------------------------------------------------- writing (on the laptop)


def machine_id() -> str:
    """A short id that stays the same on this laptop and tells it from the others; a hash, so
    the teacher's page never shows a student's hostname."""
    node = f"{platform.node()}|{platform.system()}|{platform.machine()}|{platform.processor()}"
    return hashlib.sha256(node.encode()).hexdigest()[:8]


def machine_fields(calibration: dict | None = None) -> dict:
    """The MACHINE_COLUMNS of this laptop; `calibration` is what `tinylm.calibrate.calibrate`
    returned here, if the student ran it."""
    out = {"machine": machine_id()}
    if calibration:
        c = calibration["choice"]
        out.update(calibrate_params=calibration["params"],
                   calibrate_shape=f"{c['width']}x{c['layers']}x{c['heads']}",
                   calibrate_budget_s=calibration["budget_s"])
    return out


def to_csv(rows: list[dict], calibration: dict | None = None, machine: dict | None = None) -> str:
    """The runs as CSV text with every CSV_COLUMNS column, this laptop's fields filled in
    (`machine` overrides them, e.g. for stored runs from elsewhere)."""
    fields = {**machine_fields(calibration), **(machine or {})}
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
    """The merged class: `runs` (good rows, each with its `file` and `machine`), `skipped`
    (one line per bad file or row) and `notes` (what was assumed for older files)."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the files merged (at least one run each)

    @property
    def setting(self) -> tuple[str, float] | None:
        """The (corpus, budget_s) most runs share: only those runs are compared for the
        optimum (a U-curve needs one budget)."""
        keys = [(r["corpus"], r["budget_s"]) for r in self.runs]
        return max(dict.fromkeys(keys), key=keys.count) if keys else None

    def compared(self) -> list[dict]:
        return [r for r in self.runs if (r["corpus"], r["budget_s"]) == self.setting]

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


def merge(paths) -> ClassRuns:
    """Read every CSV (a folder means the *.csv files in it) into one ClassRuns."""
    merged, seen = ClassRuns(), {}
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


def read(name: str, data: bytes) -> tuple[list[dict], list[str], list[str]]:
    """(good rows, one reason per bad file or row, notes) of one exported CSV's bytes."""
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet may add a byte-order mark
    except UnicodeDecodeError:
        return [], [f"{name}: not UTF-8 text (a spreadsheet file? export it as CSV, UTF-8)"], []
    if not text.strip():
        return [], [f"{name}: empty file"], []
    first = text.splitlines()[0]
    delimiter = max(",;\t", key=first.count)  # some spreadsheets write ';' or tabs
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in RESULT_COLUMNS if c not in header]
    if len(missing) > len(RESULT_COLUMNS) // 2:
        return [], [f"{name}: not a tinylm runs CSV (its columns are {', '.join(header[:6])}"
                    f"{', ...' if len(header) > 6 else ''}; export it from the training panel)"], []
    if missing:
        return [], [f"{name}: missing columns {', '.join(missing)}"], []
    reader.fieldnames = header
    rows, problems = [], []
    for raw in reader:
        row, why = _row(raw, delimiter)
        if why:
            problems.append(f"{name}, line {reader.line_num} (run {raw.get('run') or '?'}): {why}")
            continue
        rows.append({**row, "file": name, "line": reader.line_num})
    notes = []
    if not rows and not problems:
        problems.append(f"{name}: no runs in it (only the header)")
    if rows and "machine" not in header:
        notes.append(f"{name}: no machine column (exported before tinylm wrote one): its runs "
                     "count as one laptop, tokens/s from tokens and train_s")
    for r in rows:
        r["machine"] = r.get("machine") or f"file {name}"
        r["tokens_per_s"] = r.get("tokens_per_s") or r["tokens"] / r["train_s"]
    return rows, problems, notes


def _row(raw: dict, delimiter: str) -> tuple[dict, str]:
    """A parsed row, or ({}, why it cannot be merged)."""
    if None in raw:  # more cells than the header has columns
        return {}, "more cells than columns"
    row = {k: (v or "").strip() for k, v in raw.items()}
    status = row["status"]
    if status == "diverged":
        return {}, "the run diverged (its loss became NaN or infinite)"
    if status != "completed":
        return {}, f"status {status or 'missing'!r}: only runs that used their whole budget compare"
    for key, kind in NUMBERS.items():
        value = row.get(key, "")
        if value == "" and (key in MACHINE_COLUMNS or key == "val_ppl"):
            row[key] = None
            continue
        if delimiter != ",":
            value = value.replace(",", ".")  # decimal commas of a ';' spreadsheet
        try:
            number = float(value)
        except ValueError:
            return {}, f"{key} is {value!r}, not a number"
        if not math.isfinite(number):
            return {}, f"{key} is {value}: the run diverged"
        if kind is int and not number.is_integer():
            return {}, f"{key} is {value}, not a whole number"
        row[key] = kind(number)
    positive = ("width", "layers", "heads", "params", "budget_s", "train_s", "val_bpb")
    bad = [k for k in positive if row[k] <= 0] + (["tokens"] if row["tokens"] < 0 else [])
    if bad:
        return {}, f"{', '.join(bad)} must be positive"
    return row, ""
