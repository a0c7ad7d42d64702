"""The book as a course: every main chapter states what the student will learn and what they
need first, ends with a summary and exercises whose solutions are hidden cells that run (the
quick-mode execution of tests/test_notebooks.py runs them), and its prose types no measured
number: those are printed by cells, so they cannot drift from the results.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAIN = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
APPENDICES = sorted((ROOT / "chapters").glob("appendix_*.ipynb"))
GUIDE = ROOT / "chapters" / "teachers_guide.md"


def _markdown(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _solutions(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells
            if "solution" in c.metadata.get("tags", [])]


def test_the_book_has_its_course_pages():
    stems = [p.stem for p in MAIN]
    assert stems == ["00_introduction", "01_data", "02_gpt", "03_recipe", "04_size",
                     "05_sampling", "06_beyond"]
    assert APPENDICES and GUIDE.exists()
    toc = (ROOT / "book" / "_toc.yml").read_text()
    for page in [*stems[1:], GUIDE.stem, *(p.stem for p in APPENDICES)]:
        assert f"chapters/{page}\n" in toc, f"{page} is not in book/_toc.yml"


@pytest.mark.parametrize("path", MAIN, ids=lambda p: p.stem)
def test_chapter_opens_with_objectives_and_prerequisites(path):
    head = "\n".join(_markdown(path)[:2])
    assert "**You will**" in head, f"{path.name}: no objectives ('**You will**') at the top"
    assert re.search(r"\*\*Before this chapter:?\*\*", head), f"{path.name}: no prerequisites"


@pytest.mark.parametrize("path", MAIN, ids=lambda p: p.stem)
def test_chapter_ends_with_a_summary_and_exercises_with_hidden_solutions(path):
    cells = nbformat.read(path, as_version=4).cells
    headings = [(i, line) for i, c in enumerate(cells) if c.cell_type == "markdown"
                for line in c.source.splitlines() if line.startswith("## ")]
    names = [line for _, line in headings]
    assert "## Summary" in names, f"{path.name}: no '## Summary' section"
    assert "## Exercises" in names, f"{path.name}: no '## Exercises' section"
    assert names.index("## Summary") < names.index("## Exercises"), "the summary comes first"
    start = next(i for i, line in headings if line == "## Exercises")
    after = cells[start:]
    exercises = sum(len(re.findall(r"^\s*(?:\*\*)?(?:Exercise )?\d+[.):]", c.source, re.M))
                    for c in after if c.cell_type == "markdown")
    solutions = _solutions(path)
    assert 3 <= len(solutions) <= 5, f"{path.name}: {len(solutions)} solution cells, want 3-5"
    assert exercises >= len(solutions), f"{path.name}: {exercises} numbered exercises"
    for cell in solutions:
        assert cell.cell_type == "code" and cell in after, f"{path.name}: a solution out of place"
        assert "hide-cell" in cell.metadata["tags"], f"{path.name}: solution shown in the book"
        hidden = cell.metadata.get("jupyter", {})
        assert hidden.get("source_hidden"), f"{path.name}: solution open in JupyterLab"


# A decimal or a percentage, as a measurement is written: 0.885, 1.6%, 3 %, 12.5 million.
MEASURED = re.compile(r"(?<![\w.\-/=])\d+(?:[.,]\d+)?\s?%|(?<![\w.\-/=$\\])\d+\.\d+(?!\w|\.\d)")


def typed_measurements(markdown: str) -> list[str]:
    """Decimals and percentages in prose. Quotations (blockquotes), maths, code, link targets
    and headings of quoted sources are not prose measurements and are skipped."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`", "", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"^\s*>.*$", "", text, flags=re.M)  # quotations
    sentences = re.split(r"(?<=[.!?:])\s+", text)
    text = " ".join(s for s in sentences if not QUOTED.search(s))
    return [m.group() for m in MEASURED.finditer(text)
            if not VERSIONED.search(text[max(0, m.start() - 12):m.start()])]


# A sentence that marks its figures as quoted from a source, not measured here.
QUOTED = re.compile(r"\((?:his|their|Goedecke's) figures?\b|\(quoted\b|\breports?\b", re.I)


VERSIONED = re.compile(r"(?:torch|Python|PyTorch|Book|version|MathJax|Sphinx|ipywidgets) $", re.I)


def test_typed_measurement_finder():
    assert sorted(typed_measurements("It reached 0.885 bits, 16.6% better.")) == ["0.885", "16.6%"]
    assert not typed_measurements("> Goedecke reports 9.6 perplexity.")
    assert typed_measurements("We got 0.9. He got 9.6 (his figure).") == ["0.9"]
    assert not typed_measurements("Use `lr=0.003`, $p_i = e^{z/0.5}$, [x](https://a.b/2305.07759)")
    assert not typed_measurements("GPT-3.5 and torch 2.13 with Python 3.10 and 4,096 tokens")


@pytest.mark.parametrize("path", [*MAIN, *APPENDICES, GUIDE], ids=lambda p: p.stem)
def test_prose_types_no_measured_number(path):
    texts = [path.read_text()] if path.suffix == ".md" else _markdown(path)
    found = [m for text in texts for m in typed_measurements(text)]
    assert not found, (f"{path.name} types measured numbers {found[:6]}: print them from a cell "
                       "(an f-string or nb.claim), or quote a source in a '> ' blockquote")
