"""The class's CSV format and its reader: the columns a training panel exports, and one file's
rows checked one by one. Files come from students' laptops and spreadsheets, so nothing is
trusted: each bad file or row comes back with a one-line reason naming it.
"""

from __future__ import annotations

import csv
import io
import math

# One row per finished run of the training panel (`tinylm.notebook.panels.results.result_row`).
RESULT_COLUMNS = ("run", "corpus", "vocab", "width", "layers", "heads", "context", "batch_size",
                  "lr", "budget_s", "train_s", "tokens", "params", "val_bpb", "val_ppl", "status")
# Which laptop ran it and how fast, and the size `tinylm.tuning.calibrate` picked there (if it ran).
# CSVs exported before these columns existed merge too: tokens/s from tokens and train_s, and
# the whole file counts as one laptop.
MACHINE_COLUMNS = ("machine", "tokens_per_s", "calibrate_params", "calibrate_shape",
                   "calibrate_budget_s")
# Who handed the file in: the name the teacher gave the student's panel (empty if none).
STUDENT_COLUMNS = ("student",)
CSV_COLUMNS = RESULT_COLUMNS + STUDENT_COLUMNS + MACHINE_COLUMNS
CSV_NAME = "tinylm-runs.csv"
NUMBERS = {"vocab": int, "width": int, "layers": int, "heads": int, "context": int,
           "batch_size": int, "lr": float, "budget_s": float, "train_s": float, "tokens": int,
           "params": int, "val_bpb": float, "val_ppl": float, "tokens_per_s": float,
           "calibrate_params": int, "calibrate_budget_s": float}


# ---------------------------------------------------------------- writing (on the laptop)


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
        r["student"] = r.get("student") or ""
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
