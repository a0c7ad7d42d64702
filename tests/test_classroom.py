"""The class merge: real panel exports merge, bad files are refused by name, the CLI's exit codes,
and the page (one HTML file with the figure inlined and the skipped list)."""

from __future__ import annotations

import base64
import csv
import io
import platform
import re

import pytest

from tinylm import notebook as nb
from tinylm.cli import main as cli
from tinylm.lab import classroom
from tinylm.lab.class_files import CSV_COLUMNS, RESULT_COLUMNS
from tinylm.notebook.panels import kernel, results, speed


@pytest.fixture(scope="module")
def panel_rows(small_data):
    """Two finished runs of a real training panel (1 s each) and a real, tiny calibration."""
    from tinylm.tuning.calibrate import calibrate

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernel, "prepare", lambda corpus, vocab: small_data)
        mp.setattr(kernel, "LATEST", {})
        mp.setattr(speed, "SPEEDS", speed.SpeedEstimator())
        panel = nb.training_panel(width=32, layers=2, heads=2, context=64, vocab=512, budget=1,
                                  sample_tokens=5, final_eval_tokens=2048, threads=1,
                                  calibrate_speed=False)
        for width in (32, 48):
            panel.width.value = width
            panel.train_button.click()
            assert panel.wait(60) is not None, panel.status.value
    calibration = calibrate(budget_s=1, base={"context": 64}, batch_size=2, seconds_per_size=0.01,
                            vocab_size=512, compile=False, progress=False, device="cpu")
    return panel, calibration


def _rows(n: int, tps: float, best: int = 2, budget: float = 30.0, worse: float = 0.0) -> list[dict]:
    """Panel rows of a sweep of `n` widths from 32 whose best is the `best`-th size (from 0), at
    `tps` tokens/s for the smallest."""
    return [{"run": i + 1, "corpus": "tinystories", "vocab": 512, "width": 32 + 16 * i, "layers": 2,
             "heads": 2, "context": 64, "batch_size": 8, "lr": 0.004, "budget_s": budget,
             "train_s": budget, "tokens": int(tps * budget / (i + 1)), "params": 100_000 * (i + 1),
             "val_bpb": round(2.0 + worse + 0.05 * (i - best) ** 2, 4), "val_ppl": 9.0,
             "status": "completed"} for i in range(n)]


def _write(folder, name: str, text: str | bytes):
    path = folder / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def test_the_panel_export_is_the_class_format(panel_rows, tmp_path):
    """The panel writes its CSV through classroom.to_csv: this laptop's id and each run's tokens
    per second come with it, and the file merges with no note."""
    panel, _ = panel_rows
    assert results.RESULT_COLUMNS is RESULT_COLUMNS  # one home for the columns
    text = panel.to_csv()
    assert tuple(next(csv.reader(io.StringIO(text)))) == CSV_COLUMNS
    merged = classroom.merge([_write(tmp_path, "ada.csv", text)])
    assert [r["width"] for r in merged.runs] == [32, 48] and merged.skipped == []
    assert merged.notes == []
    first = merged.runs[0]
    assert first["machine"] == classroom.machine_id()
    assert first["tokens_per_s"] == pytest.approx(first["tokens"] / first["train_s"], rel=1e-3)
    assert merged.machines()[0]["calibrate_params"] is None


def test_the_class_export_carries_the_laptop_and_its_calibrate_pick(panel_rows, tmp_path):
    panel, calibration = panel_rows
    text = classroom.to_csv(panel.results, calibration)
    header = next(csv.reader(io.StringIO(text)))
    assert tuple(header) == CSV_COLUMNS
    merged = classroom.merge([_write(tmp_path, "ada.csv", text)])
    assert merged.notes == [] and merged.skipped == []
    lap = merged.machines()[0]
    assert lap["machine"] == classroom.machine_id() and lap["runs"] == 2
    choice = calibration["choice"]
    assert lap["calibrate_shape"] == f"{choice['width']}x{choice['layers']}x{choice['heads']}"
    assert lap["calibrate_params"] == calibration["params"]
    for row, run in zip(merged.runs, panel.results, strict=True):
        assert row["val_bpb"] == run["val_bpb"] and row["params"] == run["params"]


def test_the_machine_id_is_stable_and_hides_the_hostname():
    assert classroom.machine_id() == classroom.machine_id()
    assert re.fullmatch(r"[0-9a-f]{8}", classroom.machine_id())
    assert platform.node() not in classroom.machine_id()


def test_two_laptops_one_u_curve(tmp_path):
    fast = _write(tmp_path, "fast.csv", classroom.to_csv(_rows(5, 40_000.0),
                                                          machine={"machine": "aaaa1111"}))
    slow_rows = _rows(4, 10_000.0, worse=0.1) + _rows(1, 10_000.0, budget=60.0)
    slow = _write(tmp_path, "slow.csv", classroom.to_csv(slow_rows, machine={
        "machine": "bbbb2222", "calibrate_params": 200_000, "calibrate_shape": "48x2x2",
        "calibrate_budget_s": 30.0}))
    merged = classroom.merge([tmp_path])  # a folder: its CSVs
    assert merged.files == ["fast.csv", "slow.csv"] and len(merged.runs) == 10
    assert merged.setting == ("tinystories", 30.0) and len(merged.compared()) == 9
    curve = {c["params"]: c for c in merged.curve()}
    assert curve[200_000]["runs"] == 2 and curve[500_000]["runs"] == 1
    best = merged.optimum()  # 300k: 2.0 on the fast laptop, 2.1 on the slow one
    assert (best["params"], best["runs"], best["machines"]) == (300_000, 2, 2)
    assert best["val_bpb"] == pytest.approx(2.05) and best["interior"] and best["budget_s"] == 30
    laps = {m["machine"]: m for m in merged.machines()}
    assert laps["aaaa1111"]["tokens_per_s"] > 3 * laps["bbbb2222"]["tokens_per_s"]
    assert laps["bbbb2222"]["calibrate_shape"] == "48x2x2"
    assert laps["aaaa1111"]["files"] == "fast.csv"
    assert [m.name for m in classroom.expand([fast, slow])] == ["fast.csv", "slow.csv"]


def test_speed_is_interpolated_at_the_class_optimum():
    rows = [{"params": 100, "tokens_per_s": 1000.0}, {"params": 400, "tokens_per_s": 250.0}]
    assert classroom.speed_at(rows, 200) == pytest.approx(500.0)  # log-log: a straight line
    assert classroom.speed_at(rows, 50) == 1000.0 and classroom.speed_at(rows, 900) == 250.0


def test_bad_files_are_named_and_skipped(tmp_path):
    good = classroom.to_csv(_rows(3, 20_000.0), machine={"machine": "cccc3333"})
    lines = good.splitlines()
    header = lines[0].split(",")
    no_bpb = "\n".join(",".join(c for j, c in enumerate(line.split(",")) if header[j] != "val_bpb")
                       for line in lines)
    diverged = lines[0] + "\n" + lines[1].replace("completed", "diverged") + "\n" + \
        lines[2].replace(",2.05,", ",nan,") + "\n" + lines[3] + "\n"
    files = [_write(tmp_path, "good.csv", good),
             _write(tmp_path, "grades.csv", "student,grade,date\nada,A,2025-01-01\n"),
             _write(tmp_path, "no_bpb.csv", no_bpb),
             _write(tmp_path, "diverged.csv", diverged),
             _write(tmp_path, "empty.csv", ""),
             _write(tmp_path, "header_only.csv", lines[0] + "\n"),
             _write(tmp_path, "latin1.csv", "run,corpus\n1,caf\xe9\n".encode("latin-1")),
             _write(tmp_path, "again.csv", good),
             tmp_path / "missing.csv"]
    merged = classroom.merge(files)
    reasons = "\n".join(merged.skipped)
    assert [r["file"] for r in merged.runs] == ["good.csv"] * 3 + ["diverged.csv"]
    expected = {"grades.csv": "not a tinylm runs CSV", "no_bpb.csv": "missing columns val_bpb",
                "diverged.csv, line 2 (run 1)": "diverged",
                "diverged.csv, line 3 (run 2)": "val_bpb is nan: the run diverged",
                "empty.csv": "empty file", "header_only.csv": "no runs",
                "latin1.csv": "not UTF-8", "again.csv": "same content as good.csv",
                "missing.csv": "cannot be read"}
    for name, why in expected.items():
        assert any(line.startswith(name) and why in line for line in merged.skipped), \
            f"{name}: {why!r} not in\n{reasons}"
    assert len(merged.skipped) == len(expected)
    assert all("\n" not in line for line in merged.skipped)  # one line each


def test_a_semicolon_spreadsheet_with_decimal_commas_merges(tmp_path):
    text = classroom.to_csv(_rows(2, 20_000.0), machine={"machine": "dddd4444"})
    rows = list(csv.reader(io.StringIO(text)))
    europe = "\n".join(";".join(c.replace(".", ",") for c in row) for row in rows)
    merged = classroom.merge([_write(tmp_path, "excel.csv", "\ufeff" + europe)])
    assert merged.skipped == [] and [r["val_bpb"] for r in merged.runs] == [2.2, 2.05]


def test_the_page_inlines_the_figure_and_lists_the_skipped(tmp_path):
    _write(tmp_path, "a.csv", classroom.to_csv(_rows(4, 30_000.0), machine={
        "machine": "eeee5555", "calibrate_params": 300_000, "calibrate_shape": "64x2x2",
        "calibrate_budget_s": 30.0}))
    _write(tmp_path, "b.csv", classroom.to_csv(_rows(3, 9_000.0, best=1),
                                                machine={"machine": "ffff6666"}))
    _write(tmp_path, "notes & <scores>.csv", "name,score\nx,1\n")
    page = nb.merge_class(tmp_path, out=tmp_path / "class.html")
    text = (tmp_path / "class.html").read_text()
    assert text.startswith("<!doctype html>") and "<table" in text
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', text).group(1))
    assert png.startswith(b"\x89PNG")
    assert "Skipped (1)" in text and "notes &amp; &lt;scores&gt;.csv: not a tinylm runs CSV" in text
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from elsewhere
    assert "eeee5555" in page.summary() and "calibrate picked 64x2x2" in page.summary()
    assert isinstance(nb.class_figure(page.merged), nb.Figure)
    assert "No usable runs" in nb.merge_class([]).summary()


def test_the_cli_merges_and_refuses_bad_input(tmp_path, capsys):
    good = _write(tmp_path, "good.csv", classroom.to_csv(_rows(3, 20_000.0)))
    bad = _write(tmp_path, "bad.csv", "a,b\n1,2\n")
    out = tmp_path / "class.html"
    assert cli.main(["class", "merge", str(good), str(bad), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert out.exists() and "3 runs from 1 laptop(s), 1 skipped" in captured.out
    assert "skipped: bad.csv: not a tinylm runs CSV" in captured.err

    assert cli.main(["class", "merge", str(bad), "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: no usable runs") and not (tmp_path / "x.html").exists()
    assert cli.main(["class", "merge", str(good), "--out", str(tmp_path / "no" / "x.html")]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: cannot write")
    for argv in (["class", "merge"], ["class"], ["class", "split", str(good)]):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
        assert capsys.readouterr().err.startswith("error: ")


# ---------------------------------------------------------------- the class setting and names


@pytest.mark.parametrize("student, name", [
    ("Ada", "tinylm-runs-ada.csv"), ("  Ada Lovelace ", "tinylm-runs-ada-lovelace.csv"),
    ("Zoë O'Brien/../x", "tinylm-runs-zoe-o-brien-x.csv"), (None, "tinylm-runs.csv"),
    ("   ", "tinylm-runs.csv")])
def test_the_export_is_named_after_the_student(student, name):
    assert classroom.csv_name(student) == name


def test_a_name_in_another_script_gets_a_stable_file_name():
    first = classroom.csv_name("李雷")
    assert re.fullmatch(r"tinylm-runs-student-[0-9a-f]{6}\.csv", first)
    assert classroom.csv_name("李雷") == first != classroom.csv_name("韩梅梅")


def test_the_student_column_travels_through_the_merge(tmp_path):
    text = classroom.to_csv(_rows(2, 20_000.0), machine={"machine": "aaaa1111"}, student="Ada")
    assert "student" in next(csv.reader(io.StringIO(text)))
    assert all(r["student"] == "Ada" for r in csv.DictReader(io.StringIO(text)))
    old = "\n".join(",".join(cell for cell, col in zip(line.split(","), CSV_COLUMNS, strict=True)
                             if col != "student") for line in
                    classroom.to_csv(_rows(2, 20_000.0)).splitlines())  # before the column
    merged = classroom.merge([_write(tmp_path, "ada.csv", text), _write(tmp_path, "old.csv", old)])
    assert merged.skipped == [] and [r["student"] for r in merged.runs] == ["Ada", "Ada", "", ""]
    assert {m["machine"]: m["students"] for m in merged.machines()}["aaaa1111"] == "Ada"


def _class(tmp_path):
    """Ada and Bo at 60 s on tinystories; Cy at 30 s; Di's second run at 60 s on simplewiki."""
    files = {"ada": _rows(3, 20_000.0, budget=60.0), "bo": _rows(3, 10_000.0, budget=60.0),
             "cy": _rows(2, 15_000.0, budget=30.0),
             "di": [*_rows(1, 12_000.0, budget=60.0),
                    {**_rows(2, 12_000.0, budget=60.0)[1], "corpus": "simplewiki"}]}
    for i, (name, rows) in enumerate(files.items()):
        _write(tmp_path, classroom.csv_name(name), classroom.to_csv(
            rows, machine={"machine": f"{i}" * 8}, student=name.title()))
    return tmp_path


def test_the_merge_names_every_run_at_another_setting(tmp_path):
    merged = classroom.merge([_class(tmp_path)])
    assert merged.setting == ("tinystories", 60.0) and len(merged.compared()) == 7
    assert merged.elsewhere() == [
        "tinylm-runs-cy.csv (Cy): runs 1, 2 at 30 s on tinystories, not the class setting "
        "(60 s on tinystories)",
        "tinylm-runs-di.csv (Di): run 2 at 60 s on simplewiki, not the class setting "
        "(60 s on tinystories)"]
    assert len(merged.runs) == 10  # drawn (hollow), never dropped


def test_the_teacher_gives_the_class_setting(tmp_path):
    folder = _class(tmp_path)
    at_30 = classroom.merge([folder], budget_s=30)
    assert at_30.setting == ("tinystories", 30.0) and len(at_30.compared()) == 2
    assert len(at_30.elsewhere()) == 4 and at_30.optimum()["budget_s"] == 30
    wiki = classroom.merge([folder], corpus="simplewiki")
    assert wiki.setting == ("simplewiki", 60.0) and len(wiki.compared()) == 1
    none = classroom.merge([folder], budget_s=90, corpus="tinystories")
    assert none.compared() == [] and none.optimum() is None
    assert "No run at the class setting (90 s on tinystories)" in nb.merge_class(
        [folder], budget_s=90, corpus="tinystories").summary()
    with pytest.raises(ValueError, match="budget must be positive"):
        classroom.merge([folder], budget_s=0)


def test_the_page_and_the_cli_name_the_runs_at_another_setting(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    folder = _class(tmp_path / "in")
    page = nb.merge_class(folder, budget_s=60, corpus="tinystories")
    body = page._repr_html_()
    assert "<h2>At another setting (2)</h2>" in body and "<h2>Laptops</h2>" in body
    assert "tinylm-runs-cy.csv (Cy): runs 1, 2 at 30 s on tinystories" in body
    assert "Class setting (given): 60 s on tinystories" in page.summary()
    assert "Skipped (0)" in body and "<th>students</th>" in body
    out = tmp_path / "class.html"
    argv = ["class", "merge", str(folder), "--budget", "60", "--corpus", "tinystories",
            "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "another setting: tinylm-runs-di.csv (Di): run 2 at 60 s on simplewiki" in printed
    assert "10 runs from 4 laptop(s), 0 skipped, 3 at another setting; class setting 60 s on " \
        "tinystories" in printed
    assert "At another setting (2)" in out.read_text()
    assert cli.main([*argv[:3], "--budget", "90", "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: no run at the class setting 90 s") and "--budget 30" in err


def test_stored_sweeps_still_merge_as_laptops_with_nothing_elsewhere(tmp_path):
    """Chapter 04's merge of stored sweeps: one setting, no student, nothing at another."""
    for name in ("sweep-a", "sweep-b"):
        _write(tmp_path, f"{name}.csv", classroom.to_csv(_rows(3, 9_000.0),
                                                         machine={"machine": name}))
    body = nb.merge_class(tmp_path)._repr_html_()
    assert "<h2>Laptops</h2>" in body and "Skipped (0)" in body
    assert "<h2>At another setting (0)</h2>" in body and "<th>students</th>" not in body
