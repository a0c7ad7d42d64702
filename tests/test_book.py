"""The Jupyter Book builds (quick mode) with every chapter's figures, widgets and local scripts.

One build from the repository root per session (the `quick_book_html` fixture of conftest.py,
shared with test_browser.py): the documented command plus a temporary output folder, with `-W`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
# Figures each page must show (at least); chapters 4 and 5 end with an interactive panel.
MIN_IMAGES = {"01": 3, "02": 3, "03": 6, "04": 2, "05": 2, "06": 1}
WIDGET_PAGES = ("04", "05")


@pytest.fixture
def html(quick_book_html) -> Path:
    return quick_book_html


def _page(html: Path, stem: str) -> str:
    path = html / "chapters" / f"{stem}.html"
    assert path.exists(), f"no page for {stem}"
    return path.read_text()


@pytest.mark.slow
def test_every_chapter_has_a_page_with_its_figures(html):
    assert (html / "index.html").exists()
    for stem in CHAPTERS:
        page = _page(html, stem)
        assert "Traceback" not in page, f"{stem}: an error is shown"
        images = re.findall(r"<img [^>]*src=\"([^\"]+\.png)\"", page)
        assert len(images) >= MIN_IMAGES.get(stem[:2], 0), f"{stem}: {len(images)} figures"
        for src in images:
            assert (html / "chapters" / src).resolve().exists(), f"{stem}: missing {src}"


@pytest.mark.slow
def test_widget_pages_carry_saved_widget_state(html):
    for stem in CHAPTERS:
        if stem[:2] in WIDGET_PAGES:
            page = _page(html, stem)
            assert "application/vnd.jupyter.widget-state+json" in page, stem
            assert "application/vnd.jupyter.widget-view+json" in page, stem


@pytest.mark.slow
def test_scripts_are_served_locally(html):
    page = _page(html, CHAPTERS[1])
    sources = re.findall(r"<script[^>]*src=\"([^\"]+)\"", page)
    remote = [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert not remote, f"scripts loaded from the internet: {remote}"
    for name in ("vendor/require.js", "vendor/widgets-config.js", "vendor/embed-amd.js",
                 "vendor/mathjax/tex-mml-chtml.js"):
        assert any(s.split("?")[0].endswith(name) for s in sources), f"{name} not loaded"
        assert (html / "_static" / name).exists()
    assert list((html / "_static" / "vendor" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2")
                .glob("*.woff"))


@pytest.mark.slow
def test_launch_buttons_follow_the_project_url(html):
    """Buttons to Binder (and Colab, for a GitHub address) only once the project has a public
    address (tinylm.version.PROJECT_URL, copied into book/_config.yml by book/configure.py)."""
    from tinylm.version import PROJECT_URL

    page = _page(html, CHAPTERS[1])
    assert ("mybinder.org" in page) == bool(PROJECT_URL)
    assert ("colab.research.google.com" in page) == str(PROJECT_URL).startswith("https://github.com/")


@pytest.mark.slow
def test_panels_carry_the_web_editions_note(html):
    """Every page with a panel embeds its "needs a running Python kernel" note, and has what the
    note's CSS rule looks for (`web.BOOK_PAGE`: attributes Sphinx writes on <html> or <body>)."""
    from tinylm.notebook.panels import web

    marks = [sel.rstrip("]").split("[") for sel in web.BOOK_PAGE]  # [tag, attribute]
    with_panels = 0
    for stem in CHAPTERS:
        page = _page(html, stem)
        if "tinylm-training-panel" in page or "tinylm-sampling-panel" in page:
            with_panels += 1
            assert "tinylm-web-note" in page and "needs a running Python kernel" in page, stem
            assert any(re.search(f"<{tag}[^>]* {attr}=", page) for tag, attr in marks), stem
    assert with_panels, "no chapter page embeds a panel"


# ---------------------------------------------------------------- the structure of every page

FULL_HTML = ROOT / "book" / "_build" / "html"  # `python book/build.py` (CI builds only --quick)
# What each chapter page shows (at least), in the quick and the full build alike:
# images (PNG figures and plots), tables (nb.table), sample text, saved widget state (the
# panels; chapters 1 and 2 also save their trainings' progress bars).
STRUCTURE = {
    "00": {"images": 0, "tables": 1, "timeline": True},
    "01": {"images": 3, "tables": 4, "samples": 'class="tinylm-samples"', "widgets": True,
           "live": True},
    "02": {"images": 3, "widgets": True},
    "03": {"images": 6, "tables": 1, "live": True},
    "04": {"images": 2, "widgets": True},
    "05": {"images": 2, "tables": 1, "samples": 'class="tinylm-tokens"', "widgets": True,
           "live": True},
    "06": {"images": 1, "tables": 2, "samples": "<th>sample</th>"},
}


def structure_problems(html: Path) -> list[str]:
    """What a page lacks, or shows that a reader would trip on, per STRUCTURE."""
    problems = []
    for stem in CHAPTERS:
        want, page = STRUCTURE.get(stem[:2], {}), _page(html, stem)
        if "Traceback" in page or 'class="output traceback' in page:
            problems.append(f"{stem}: shows a traceback")
        images = re.findall(r"<img [^>]*src=\"([^\"]+\.png)\"", page)
        if len(images) < want.get("images", 0):
            problems.append(f"{stem}: {len(images)} figures, expected {want['images']}")
        problems += [f"{stem}: missing {src}" for src in images
                     if not (html / "chapters" / src).resolve().exists()]
        tables = page.count('class="tinylm-table"')
        if tables < want.get("tables", 0):
            problems.append(f"{stem}: {tables} tables, expected {want['tables']}")
        if "samples" in want and want["samples"] not in page:
            problems.append(f"{stem}: no sample text ({want['samples']})")
        if want.get("timeline") and "data-tinylm-timeline" not in page:
            problems.append(f"{stem}: no learning timeline")
        if want.get("widgets") and "application/vnd.jupyter.widget-state+json" not in page:
            problems.append(f"{stem}: no saved widget state")
        live = re.findall(r"<iframe data-src='\.\./_static/live/([^'?]+)", page)  # nb.live_sampler
        if want.get("live") and not live:
            problems.append(f"{stem}: no live sampler")
        problems += [f"{stem}: missing _static/live/{f}" for f in live
                     if not (html / "_static" / "live" / f).is_file()]
    return problems


@pytest.mark.slow
def test_quick_build_structure(html):
    assert not structure_problems(html)


def test_full_build_structure():
    """The full build (`python book/build.py`, about 7½ minutes on the benchmark machine), when
    one is there: CI builds only the quick book, so this reads what a developer built."""
    if not (FULL_HTML / "chapters").is_dir():
        pytest.skip(f"no full build at {FULL_HTML.relative_to(ROOT)} (`python book/build.py` "
                    "makes one; CI builds only the quick book, checked by "
                    "test_quick_build_structure)")
    assert not structure_problems(FULL_HTML)
