"""The book's chapters: clean in git, every one executes end to end in quick mode.

Chapters execute the way the book build runs them: with nbclient, from `chapters/`, with
TINYLM_QUICK=1 (budgets of a few seconds) and the shared corpora. The plot helpers are also
checked here on a made-up stored study, so they work before real benchmark results exist.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from tinylm import notebook as nb

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))  # the numbered ones and the appendices


def test_chapters_exist_and_are_in_the_toc():
    assert len(CHAPTERS) >= 7, "chapters 00-06 are missing"
    toc = (ROOT / "book" / "_toc.yml").read_text()
    listed = set(re.findall(r"chapters/(\w+)", toc))
    assert listed == {p.stem for p in CHAPTERS} | {"teachers_guide"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, \
                f"{path.name}: clear the outputs before committing"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state; clear it"


@pytest.fixture(scope="session")
def wheel_site(tmp_path_factory) -> Path:
    """tinylm as Colab installs it: a wheel built from the repository (not the checkout),
    installed into a folder of its own, which the kernels put first on their path."""
    import shutil
    import subprocess

    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # only what a build reads: no stale build/ folder can leak in
    for part in ("tinylm", "benchmarks/results"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-build-isolation", "--no-deps", str(source), "-w",
                    str(out / "dist")], check=True, cwd=out)
    wheel = next((out / "dist").glob("tinylm-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(out / "site"), str(wheel)],
                   check=True, cwd=out)
    return out / "site"


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_executes_in_quick_mode_from_a_wheel(path, wheel_site, tmp_path, monkeypatch):
    """Each chapter alone in an empty folder, against the wheel: what a Colab student runs. The
    book build executes the same chapters from the checkout."""
    from nbclient import NotebookClient

    monkeypatch.setenv("TINYLM_QUICK", "1")  # the kernel inherits the environment
    monkeypatch.setenv("PYTHONPATH", str(wheel_site))
    monkeypatch.delenv("TINYLM_RESULTS_DIR", raising=False)
    nb = nbformat.read(path, as_version=4)
    where = nbformat.v4.new_code_cell(
        "import pathlib, tinylm\n"
        f"assert pathlib.Path(tinylm.__file__).is_relative_to({str(wheel_site)!r}), tinylm.__file__")
    nb.cells.insert(0, where)
    alone = tmp_path / "empty"
    alone.mkdir()
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(alone)}})
    client.execute()  # raises CellExecutionError, with the traceback, on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/html", ""))
                     + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "No stored result" not in text, f"{path.name}: stored results missing from the wheel"
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    key = path.stem[:2] if path.stem[:2].isdigit() else path.stem
    assert images >= EXPECTED_IMAGES.get(key, 0), f"{path.name}: figures missing"
    shown = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    for name in EXPECTED_SOURCE.get(key, ()):
        assert f": {name}</div>" in shown, f"{path.name}: the source of {name} is not shown"
    for text in EXPECTED_HTML.get(key, ()):
        assert text in shown, f"{path.name}: {text!r} is not shown"


# Figures each chapter must show (at least), in quick mode with or without stored results.
EXPECTED_IMAGES = {"01": 3, "02": 3, "03": 6, "04": 2, "05": 2, "06": 1, "appendix_log": 2}
# Code each chapter shows from the package's source (`nb.source`, titled with the name).
EXPECTED_SOURCE = {
    "02": ("tinylm.core.models.layers.Block",),
    "03": ("tinylm.core.models.gpt.GPT", "tinylm.core.models.layers.Attention.forward",
           "tinylm.core.models.layers.Rotary", "tinylm.core.models.layers.MLP",
           "tinylm.core.optim.make_optimizer", "tinylm.core.schedule.lr_at"),
    "04": ("tinylm.core.schedule.TrainConfig", "tinylm.core.schedule.lr_at", "tinylm.core.loop.Loop.run",
           "tinylm.core.loop.Loop.train_step", "tinylm.core.loop.Loop.log"),
    "appendix_log": ("tinylm.core.models.heads.AdaptiveHead", "tinylm.core.models.layers.attend"),
}
# Other HTML a chapter must show: the size appendix merges the stored sweeps as a class's CSVs.
EXPECTED_HTML = {"appendix_size": ("data:image/png;base64,", "<h2>Laptops</h2>", "Skipped (0)")}


# ---------------------------------------------------------------- code on the page


def test_source_shows_the_package_code_with_its_lines():
    import inspect

    from tinylm.core.loop import Loop
    from tinylm.core.models.gpt import GPT

    block = nb.source(GPT.forward)
    code, first = inspect.getsourcelines(GPT.forward)
    assert (block.path, block.first, block.last) == ("tinylm/core/models/gpt.py", first,
                                                     first + len(code) - 1)
    assert block.code.startswith("def forward(self") and "[B, T, vocab]" in block.code
    page = block._repr_html_()
    where = f"tinylm/core/models/gpt.py, lines {first}–{block.last}"
    assert f"{where}: tinylm.core.models.gpt.GPT.forward" in page
    assert '<span style="' in page  # inline colours: no stylesheet needed, in Lab or the book
    assert block._repr_markdown_().count("```") == 2 and "def forward" in repr(block)
    assert nb.source("tinylm.core.loop.Loop.run").code == nb.source(Loop.run).code
    part = nb.source("tinylm.core.schedule.lr_at", lines=("if cfg.decay", "else:"))
    assert part.code.startswith("if cfg.decay") and part.code.splitlines()[-1].strip().startswith("else:")
    assert part.first > nb.source("tinylm.core.schedule.lr_at").first
    assert nb.source(GPT, lines=(1, 2)).code.splitlines()[0] == "class GPT(LanguageModel):"
    for bad in (("no such line", 2), (3, 1), (1, 10_000)):
        with pytest.raises(ValueError):
            nb.source(GPT, lines=bad)
    with pytest.raises(ValueError, match="cannot import"):
        nb.source("nonexistent_module_xyz.thing")
    long, short = nb.source("tinylm.core.loop.Loop.run"), nb.source(GPT, lines=(1, 2))
    assert long._repr_html_().startswith("<details") and "click to show" in long._repr_html_()
    assert not short._repr_html_().startswith("<details")  # a few lines stay open
    assert not nb.source("tinylm.core.loop.Loop.run", folded=False)._repr_html_().startswith("<det")


# ---------------------------------------------------------------- plot helpers, no training


def _history(scale: float) -> list[dict]:
    return [{"step": i, "elapsed_s": i * 1.0, "tokens": i * 2048, "train_loss": 8 - scale * i,
             "lr": 1e-3, **({"val_loss": 8 - scale * i, "val_bpb": 2.5 - scale * i / 3}
                            if i % 3 == 0 else {})} for i in range(1, 10)]


def _write_study(folder: Path, name: str, budget: float, recipes: dict[str, tuple]) -> None:
    """A stored study in the harness's format: {recipe: (spec, params, tokens/s, [val_bpb...])}."""
    (folder / name).mkdir(parents=True)
    runs, rows = [], []
    for label, (spec, params, tps, bpbs) in recipes.items():
        for repeat, bpb in enumerate(bpbs):
            metrics = {"val_bpb": bpb, "val_loss": bpb * 2.8, "val_ppl": 2.7 ** (bpb * 2.8),
                       "tokens_per_s": tps, "tokens_seen": int(tps * budget), "params": params,
                       "history": _history(0.1 + 0.01 * repeat)}
            runs.append({"study": name, "recipe": label, "spec": spec, "repeat": repeat,
                         "seed": 1000 + repeat, "budget_s": budget, "corpus": "tinystories",
                         "metrics": metrics})
        mean = sum(bpbs) / len(bpbs)
        rows.append({"recipe": label, "params": params, "tokens_per_s": tps,
                     "tokens_seen": int(tps * budget), "val_loss": mean * 2.8, "val_bpb": mean,
                     "val_ppl": 2.7 ** (mean * 2.8), "n": len(bpbs)})
    base = rows[0]
    for r in rows:
        r["bpb_ratio"] = r["val_bpb"] / base["val_bpb"]
        r["tps_ratio"] = r["tokens_per_s"] / base["tokens_per_s"]
    (folder / name / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    (folder / name / "summary.json").write_text(json.dumps({"baseline": base["recipe"], "rows": rows}))


@pytest.fixture
def stored(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYLM_RESULTS_DIR", str(tmp_path))
    gpt2 = {"mlp": "gelu", "positions": "learned", "compile": "off"}
    _write_study(tmp_path, "ablations-300s", 300, {
        "gpt2": (gpt2, 970_000, 13_000.0, [1.40, 1.41, 1.39]),
        "gpt2:positions=rotary": ({**gpt2, "positions": "rotary"}, 950_000, 13_500.0, [1.30, 1.31, 1.30]),
        "gpt2:mlp=swiglu": ({**gpt2, "mlp": "swiglu"}, 970_000, 12_000.0, [1.41, 1.40, 1.42]),
    })
    for budget, best in ((60, 1), (300, 2)):
        sizes = {f"default:width={w}": ({"width": w}, 400_000 * (i + 1), 30_000.0 / (i + 1),
                                        [1.5 + 0.05 * (i - best) ** 2])
                 for i, w in enumerate((48, 64, 96, 128, 160))}
        _write_study(tmp_path, f"sizes-{budget}s", budget, sizes)
    return tmp_path


def test_plots_on_a_stored_study(stored):
    ablations = nb.load_studies("ablations-")
    assert [s.name for s in ablations] == ["ablations-300s"]
    rows = nb.effects(ablations[0])
    verdicts = {r["recipe"]: r["verdict"] for r in rows}
    assert verdicts == {"gpt2": "baseline", "gpt2:positions=rotary": "helps",
                        "gpt2:mlp=swiglu": "no clear effect"}
    rotary = nb.find(rows, "rotary")[0]
    assert rotary["change"] == "positions=rotary" and rotary["delta_bpb"] < 0
    assert "helps" in " ".join(nb.verdict_text(rotary).split())
    assert "swiglu" in nb.verdicts(rows, keep=("hurts", "no clear effect"))
    assert "rotary" not in nb.verdicts(rows, keep=("hurts",))
    assert nb.verdicts([], word="rotary").startswith("No stored result")
    assert "<table" in nb.effects_table(rows)._repr_html_()
    for fig in (nb.delta_bars(rows), nb.study_curves(ablations[0])):
        assert fig._repr_png_().startswith(b"\x89PNG")

    sweeps = nb.load_studies("sizes-")
    assert [s.budget_s for s in sweeps] == [60.0, 300.0]
    assert [r["params"] for r in nb.optima(sweeps)] == [800_000, 1_200_000]
    measured = [{"params": 400_000, "eager_tokens_per_s": 20_000.0}]
    for fig in (nb.size_curves(sweeps), nb.throughput(sweeps, measured),
                nb.optimum_vs_budget(sweeps)):
        assert fig._repr_png_().startswith(b"\x89PNG")
    best = nb.optimum(sweeps[0])
    text = " ".join(nb.calibration({"tokens_per_s": 5 * best["tokens_per_s"]}, best, sweeps).split())
    assert "5.00 times" in text and "(300 s)" in text  # 5x faster: 300 s here ~ 1500 s there

    commands = nb.harness_commands(["sizes-"], out="runs/x")
    assert len(commands) == 2 and commands[0][0] == sys.executable
    assert commands[0][1:7] == ["-m", "benchmarks.run", "--study", "sizes-60s", "--budget", "60"]


def test_stored_settings_override_stored_specs(stored):
    """Runs that store their complete settings are rerun and described by those settings, not
    by a spec that meant something else under older defaults."""
    from tinylm.lab.recipes import defaults

    runs = stored / "sizes-60s" / "runs.jsonl"
    records = [json.loads(line) for line in runs.read_text().splitlines()]
    old_depth = defaults()["layers"] + 3
    for r in records:
        r["settings"] = {**defaults(), **r["spec"], "layers": old_depth,
                         "corpus": "tinystories", "budget_s": 60.0, "seed": r["seed"]}
    runs.write_text("".join(json.dumps(r) + "\n" for r in records))
    study = nb.load_study("sizes-60s")
    name = f"default:width=48,layers={old_depth}"  # the label in today's terms
    assert name in [r["recipe"] for r in study.rows] and name in [r["recipe"] for r in study.runs]
    assert study.baseline == name
    assert study.spec(name) == {"width": 48, "layers": old_depth}
    assert name in nb.harness_commands(["sizes-60s"])[0]
    assert nb.describe_spec(study.spec(f"default:width=160,layers={old_depth}"),
                            study.spec(name)) == "width=160"


def test_family_plots_on_stored_studies(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYLM_RESULTS_DIR", str(tmp_path))
    for budget, lstm_bpb in ((60, 1.10), (300, 1.05)):
        _write_study(tmp_path, f"families-{budget}s", budget, {
            "default": ({}, 770_000, 20_000.0, [1.00, 1.02]),
            "default:width=96": ({"width": 96}, 1_300_000, 14_000.0, [1.04]),
            "default:family=lstm": ({"family": "lstm"}, 1_000_000, 18_000.0, [lstm_bpb]),
            "default:family=mdlm": ({"family": "mdlm"}, 770_000, 15_000.0, [2.0]),
        })
    runs = tmp_path / "families-300s" / "runs.jsonl"
    records = [json.loads(line) for line in runs.read_text().splitlines()]
    records[0]["sample"] = {"prompt": "Once upon a time", "text": "Once upon a time, a cat."}
    runs.write_text("".join(json.dumps(r) + "\n" for r in records))
    studies = nb.load_studies("families-")
    rows = nb.family_rows(studies)
    assert len(rows) == 8
    assert {r["family"] for r in rows} == {"transformer", "LSTM", "diffusion (MDLM, bound)"}
    text = " ".join(nb.family_verdicts(studies).split())
    assert "60 s: best transformer default (770,000 parameters" in text
    assert "val_bpb 1.1000, 8.9% higher than the transformer" in text  # 1.10 / 1.01
    assert "val_bpb 2.0000" in text
    assert nb.family_sizes(studies)._repr_png_().startswith(b"\x89PNG")
    table = nb.stored_samples(studies[1])._repr_html_()
    assert "a cat." in table and table.count("<tr>") == 2  # header and the one stored sample
    assert "stored no samples" in nb.stored_samples(studies[0]).text
    assert isinstance(nb.family_sizes([]), nb.HTML)
    assert nb.family_verdicts([]) == "No stored family studies."


def test_missing_studies_give_notes_not_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYLM_RESULTS_DIR", str(tmp_path))
    assert nb.load_study("recipe-300s") is None
    assert "No stored results" in capsys.readouterr().out
    assert nb.load_studies("sizes-") == []
    assert "No stored results for studies 'sizes-*'" in capsys.readouterr().out
    for out in (nb.effects_table(nb.effects(None)), nb.delta_bars([]), nb.size_curves([]),
                nb.throughput([]), nb.optimum_vs_budget([]), nb.study_curves(None),
                nb.table([])):
        assert isinstance(out, nb.HTML)
    assert set(nb.recipe_specs(None)) == {"gpt2", "default"}
    assert "No stored run" in nb.calibration({"tokens_per_s": 1000.0}, None, [])
    assert nb.load_studies("sizes-", quiet=True) == [] and capsys.readouterr().out == ""


def test_the_core_store_says_nothing_unless_asked(tmp_path, monkeypatch, capsys):
    """tinylm.lab.results shows nothing itself (no IPython in core): a missing study is None, and
    the message goes to `warn` when one is given (the notebook layer shows it as a note)."""
    from tinylm.lab import results

    monkeypatch.setenv("TINYLM_RESULTS_DIR", str(tmp_path))
    messages = []
    assert results.load_study("recipe-300s") is None
    assert results.load_studies("sizes-") == []
    assert capsys.readouterr().out == ""
    assert results.load_study("recipe-300s", warn=messages.append) is None
    assert results.load_studies("sizes-", warn=messages.append) == []
    assert len(messages) == 2 and all(m.startswith("No stored results") for m in messages)
    assert results.read_runs(tmp_path / "nothing") == []
    command = results.harness_commands(["recipe-300s"])[0]  # known before anything is stored
    assert command[1:5] == ["-m", "benchmarks.run", "--study", "recipe-300s"]


def test_one_loss_line_for_every_curve():
    from tinylm.core.evaluate import bits_per_byte

    fig, ax = nb.figure()
    history = _history(0.1)
    line = nb.loss_line(ax, history, bytes_per_token=4.0)
    assert list(line.get_ydata()) == [bits_per_byte(r["train_loss"], 4.0) for r in history]
    assert nb.loss_line(ax, history, "no_such_key") is None
    runs = [{"recipe": "a", "repeat": 0, "metrics": {"history": history, "train_seconds": 9.0,
                                                      "val_bpb": 2.0}}]
    assert nb.png(nb.figures.harness_curves(runs, {"a": "a"}, "t")).startswith(b"\x89PNG")


def test_live_loss_collects_without_a_notebook():
    live = nb.LiveLoss("run")
    for record in _history(0.1):
        live({"event": "log", **record})
    live({"event": "end", "val_bpb": 1.5, "val_ppl": 20.0})
    assert len(live.history) == 9 and live.metrics["val_bpb"] == 1.5
    assert live.figure()._repr_png_().startswith(b"\x89PNG")


def test_token_colouring_and_repetition():
    records = [{"id": 1, "text": " a<b>", "prob": 0.9, "top": [(" a<b>", 0.9), (" c", 0.05)]},
               {"id": 2, "text": " d", "prob": 0.1, "top": [(" e", 0.6), (" d", 0.1)]}]
    markup = nb.tokens_html(records, "Once")._repr_html_()
    assert "&lt;b&gt;" in markup and markup.count("<span title=") == 2
    assert nb.alternatives(records, 1)._repr_png_().startswith(b"\x89PNG")
    assert nb.repetition("a b c d a b c d a b c d") > 0.5
    assert nb.repetition("one two three four five") == 0.0

