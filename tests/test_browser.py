"""Real browser (Chromium): what a student does with the panels in JupyterLab, and the built book.

Without Chromium or playwright these tests skip, except in CI (CI=true), where they fail.
Screenshots of failures go to $TINYLM_ARTIFACTS (or a pytest temporary folder); the path is
printed. JupyterLab runs in quick mode (TINYLM_QUICK=1): the default budget is 2 s. The book
test checks the quick build of the `quick_book_html` fixture (conftest.py; built once per
session, shared with test_book.py), so it does not depend on which file runs first.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import lab

pytestmark = pytest.mark.slow
TRAIN_TIMEOUT_MS = 120_000  # includes preparing the data on first use (quick mode: ~2 s)


@dataclass
class Notebook:
    page: object
    training: object  # locator of the training panel
    sampling: object  # locator of the sampling panel
    artifacts: object


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return lab.artifacts_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def expect():
    lab.chromium_path()  # skip (or fail in CI) before starting anything
    from playwright.sync_api import expect

    return expect


@pytest.fixture(scope="module")
def browser(expect):
    with lab.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def notebook(tmp_path_factory, artifacts, browser, expect):
    """JupyterLab with a notebook of the chapter's panel cell and a sampling panel, run."""
    root = tmp_path_factory.mktemp("lab")
    panel_cell = lab.chapter_panel_cell()
    lab.write_notebook(root / "panels.ipynb",
                       [lab.IMPORT_CELL, panel_cell, "nb.sampling_panel()"])
    log = artifacts / f"jupyterlab-{time.strftime('%H%M%S')}.log"
    print(f"\n[browser test] panel cell: {panel_cell}; JupyterLab log: {log}")
    with lab.jupyter_lab(root, log) as url, lab.new_page(browser) as page:
        with lab.screenshot_on_failure(page, artifacts, "open-notebook"):
            lab.open_notebook(page, url, "panels.ipynb")
            lab.run_all_cells(page)
            nb = page.locator(".jp-NotebookPanel:visible")
            training = nb.locator(".tinylm-training-panel")
            sampling = nb.locator(".tinylm-sampling-panel")
            expect(training).to_be_visible(timeout=120_000)
            expect(sampling).to_be_visible(timeout=60_000)
        yield Notebook(page, training, sampling, artifacts)


def _number(text: str) -> int:
    return int(re.search(r"[\d,]+", text).group().replace(",", ""))


def _finished_runs(nb: Notebook) -> int:
    return nb.training.locator(".tinylm-results-table tbody tr").count()


def test_slider_changes_params_and_train_shows_curve_metrics_and_story(notebook, expect):
    nb, page = notebook, notebook.page
    panel = nb.training
    with lab.screenshot_on_failure(page, nb.artifacts, "train"):
        # the web edition's note (tinylm/notebook/panels/web.py) is hidden where a kernel runs
        for note in (panel.locator(".tinylm-web-note"), nb.sampling.locator(".tinylm-web-note")):
            expect(note).to_contain_text("needs a running Python kernel", use_inner_text=False)
            expect(note.locator(".tinylm-web-only")).to_be_hidden()
        status = panel.locator(".tinylm-status")
        expect(status).to_contain_text("Move the sliders", use_inner_text=True)
        expect(status).not_to_contain_text("see the note", use_inner_text=True)
        params = panel.locator(".tinylm-params-label")
        expect(params).to_have_text(re.compile(r"^[\d,]+ parameters"))
        before = _number(params.inner_text())
        width = int(panel.locator(".tinylm-width .widget-readout").inner_text())
        heads = int(panel.locator(".tinylm-heads .widget-readout").inner_text())
        train = panel.locator(".tinylm-train-button")
        # heads that do not divide the width are flagged at the heads control, Train disabled
        bad_heads = next(h for h in range(2, 17) if width % h)
        lab.set_slider(page, panel.locator(".tinylm-heads"), bad_heads)
        expect(panel.locator(".tinylm-heads-warning")).to_contain_text("not divisible")
        expect(train).to_be_disabled()
        lab.set_slider(page, panel.locator(".tinylm-heads"), heads)
        expect(panel.locator(".tinylm-heads-warning")).to_have_text("")
        valid = [w for w in range(16, 513, 16) if w % (2 * heads) == 0 and w != width]
        smaller = max((w for w in valid if w < width), default=valid[0])
        lab.set_slider(page, panel.locator(".tinylm-width"), smaller)
        expect(panel.locator(".tinylm-width .widget-readout")).to_have_text(str(smaller))
        expect(params).to_have_text(re.compile(r"^[\d,]+ parameters"))  # a count, not a warning
        expect(params).not_to_contain_text(f"{before:,}")
        after = _number(params.inner_text())
        assert (after < before) == (smaller < width), (before, after)
        layers = panel.locator(".tinylm-layers")  # the slider's handle, moved by keyboard
        n_layers = int(layers.locator(".widget-readout").inner_text())
        layers.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowLeft" if n_layers > 1 else "ArrowRight")
        expect(layers.locator(".widget-readout")).not_to_have_text(str(n_layers))
        expect(params).not_to_contain_text(f"{after:,}")
        after = _number(params.inner_text())
        expect(train).to_be_enabled()

        plot = panel.locator("img.tinylm-plot")
        empty_plot = plot.get_attribute("src")
        runs = _finished_runs(nb)
        train.click()
        metrics = panel.locator(".tinylm-metrics-label")
        expect(metrics).to_contain_text("val_bpb", timeout=TRAIN_TIMEOUT_MS)
        expect(metrics).to_contain_text(f"{after / 1e6:.3g}M parameters" if after >= 1e6
                                        else f"{after / 1e3:.3g}k parameters")
        assert plot.get_attribute("src") != empty_plot
        assert plot.evaluate("img => img.complete && img.naturalWidth > 0")
        expect(panel.locator(".tinylm-sample-output")).to_contain_text("Once upon a time")
        expect(panel.locator(".tinylm-results-table tbody tr")).to_have_count(runs + 1)
        with page.expect_download() as download:  # the class's CSV
            panel.locator(".tinylm-csv-link a").click()
        table = Path(download.value.path()).read_text().splitlines()
        assert table[0].startswith("run,corpus,") and len(table) == runs + 2, table


def test_stop_ends_a_long_run_early_and_keeps_the_model(notebook, expect):
    nb, page = notebook, notebook.page
    panel = nb.training
    with lab.screenshot_on_failure(page, nb.artifacts, "stop"):
        lab.set_slider(page, panel.locator(".tinylm-budget"), 120)
        expect(panel.locator(".tinylm-tokens-label")).to_contain_text("in 120 s")
        runs = _finished_runs(nb)
        started = time.monotonic()
        panel.locator(".tinylm-train-button").click()
        expect(panel.locator(".tinylm-status")).to_contain_text("Training:", timeout=TRAIN_TIMEOUT_MS)
        page.wait_for_timeout(1000)
        panel.locator(".tinylm-stop-button").click()
        expect(panel.locator(".tinylm-metrics-label")).to_contain_text("stopped early", timeout=60_000)
        elapsed = time.monotonic() - started
        assert elapsed < 60, f"Stop took until {elapsed:.0f} s into a 120 s run"
        expect(panel.locator(".tinylm-sample-output")).to_contain_text("Once upon a time")
        assert len(panel.locator(".tinylm-sample-output").inner_text()) > len("Once upon a time")
        expect(panel.locator(".tinylm-results-table tbody tr")).to_have_count(runs + 1)
        expect(panel.locator(".tinylm-results-table tbody tr").first).to_contain_text("stopped")
        expect(panel.locator(".tinylm-train-button")).to_be_enabled()
        expect(panel.locator(".tinylm-stop-button")).to_be_disabled()


def test_sampling_panel_text_changes_with_the_seed(notebook, expect):
    nb, page = notebook, notebook.page
    sampler = nb.sampling
    with lab.screenshot_on_failure(page, nb.artifacts, "sampling"):
        if _finished_runs(nb) == 0:  # run alone: train a quick model first
            nb.training.locator(".tinylm-train-button").click()
            expect(nb.training.locator(".tinylm-metrics-label")).to_contain_text(
                "val_bpb", timeout=TRAIN_TIMEOUT_MS)
        texts = []
        for seed in (0, 1):
            box = sampler.locator(".tinylm-seed input")
            box.fill(str(seed))
            box.press("Enter")
            sampler.locator(".tinylm-generate-button").click()
            expect(sampler.locator(".tinylm-status")).to_contain_text(f"with seed {seed} ",
                                                                      timeout=60_000)
            texts.append(sampler.locator(".tinylm-output").inner_text())
        expect(sampler.locator(".tinylm-model-label")).to_contain_text("training panel")
        assert all(t.startswith("Once upon a time") and len(t) > 20 for t in texts), texts
        assert texts[0] != texts[1]


def test_built_book_shows_figures_and_widget_state(artifacts, expect, request):
    # requested here, after `expect` checked for Chromium: no browser, no three-minute build
    html_dir = request.getfixturevalue("quick_book_html")
    assert (html_dir / "index.html").exists(), html_dir
    pages = sorted((html_dir / "chapters").glob("*.html"))
    with_widgets = [p for p in pages
                    if "application/vnd.jupyter.widget-view+json" in p.read_text(errors="replace")]
    assert with_widgets, (f"no chapter page under {html_dir}/chapters embeds widget views: the "
                          "chapters with panels must be executed by the book build")
    chosen = next((p for p in with_widgets if p.stem == "04_size"), with_widgets[0])
    has_panel = "tinylm-training-panel" in chosen.read_text(errors="replace")
    browser = request.getfixturevalue("browser")  # started only once the book is built
    with lab.static_server(html_dir) as url, lab.new_page(browser) as page:
        failed = []
        page.on("requestfailed", lambda r: failed.append(r.url))
        with lab.screenshot_on_failure(page, artifacts, "book"):
            page.goto(f"{url}/{chosen.relative_to(html_dir).as_posix()}")
            widget = page.locator(".tinylm-training-panel" if has_panel else ".jupyter-widgets")
            try:
                widget.first.wait_for(timeout=30_000)
            except Exception:
                raise AssertionError(f"{chosen.name}: the embedded widget state did not render; "
                                     f"failed requests: {failed or 'none'}; console errors: "
                                     f"{page.console_errors[-5:]} (offline, the widget and "
                                     "require.js scripts must be served locally: see STACK.md)"
                                     ) from None
            if has_panel:  # a web reader is told the panel needs a kernel, and how to get one
                expect(widget.locator(".tinylm-web-note")).to_contain_text("needs a running Python "
                                                                           "kernel")
                expect(widget.locator(".tinylm-web-note .tinylm-web-only")).to_be_visible()
                status = widget.locator(".tinylm-status")
                expect(status).to_contain_text("see the note at the top", use_inner_text=True)
                expect(status).not_to_contain_text("Move the sliders", use_inner_text=True)
                expect(widget.locator(".tinylm-params-label")).to_contain_text("parameters")
                expect(widget.locator(".tinylm-width .widget-readout")).to_have_text(re.compile(r"\d+"))
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            images = page.locator("article img, main img")
            sizes = images.evaluate_all("imgs => imgs.filter(i => i.checkVisibility())"
                                        ".map(i => [i.currentSrc.slice(0, 80), i.naturalWidth])")
            assert sizes, f"{chosen.name} shows no figures"
            broken = [src for src, width in sizes if width == 0]
            assert not broken, f"{chosen.name}: figures that did not load: {broken}"


# Outputs wider than the content column, unless a box around them scrolls (wide tables do).
OVERFLOW_JS = """() => {
  const main = document.querySelector('#main-content article') || document.querySelector('main');
  const right = main.getBoundingClientRect().right + 2, out = [];
  for (const e of main.querySelectorAll('.cell_output *')) {
    const r = e.getBoundingClientRect();
    if (!r.width || r.right <= right) continue;
    let a = e.parentElement, boxed = false;
    for (; a && a !== main; a = a.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)
          && a.getBoundingClientRect().right <= right) { boxed = true; break; }
    }
    if (!boxed) out.push(`${e.tagName}.${String(e.className).slice(0, 40)}`);
  }
  return [...new Set(out)].slice(0, 8);
}"""


def test_built_book_pages_have_no_script_errors_and_fit_the_column(artifacts, expect, request):
    """Every page at a laptop's width: no script error (MathJax 3 against the widget manager's
    MathJax 2 call, a script Sphinx writes twice), no output running off the column's right."""
    html_dir = request.getfixturevalue("quick_book_html")
    pages = [html_dir / "index.html", *sorted((html_dir / "chapters").glob("*.html"))]
    browser = request.getfixturevalue("browser")
    problems = []
    with lab.static_server(html_dir) as url:
        for path in pages:
            with lab.new_page(browser) as page:
                page.set_viewport_size({"width": 1280, "height": 900})
                errors, missing = [], []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on("response", lambda r, missing=missing: r.status >= 400
                        and not r.url.endswith("/favicon.ico") and missing.append(r.url))
                page.goto(f"{url}/{path.relative_to(html_dir).as_posix()}")
                page.wait_for_load_state("load")
                if "widget-view+json" in path.read_text(errors="replace"):
                    page.locator(".jupyter-widgets").first.wait_for(state="attached",
                                                                    timeout=30_000)
                page.wait_for_timeout(1500)  # MathJax and the widgets finish rendering
                # a missing file is named by `missing`; Chromium's console line does not say which
                errors += [m for m in page.console_errors if not m.startswith("Failed to load")]
                errors += [f"not found: {url}" for url in missing]
                if errors:
                    problems.append(f"{path.name}: script errors {errors[:3]}")
                if wide := page.evaluate(OVERFLOW_JS):
                    problems.append(f"{path.name}: wider than the column: {wide}")
                    page.screenshot(path=str(artifacts / f"book-{path.stem}.png"), full_page=True)
    assert not problems, "\n".join(problems)


MAX_SCREENS, MAX_TABLES = 11, 5  # a chapter a class gets through: about ten screens


def test_main_chapters_fit_a_class(artifacts, request):
    """Every numbered chapter of the built book, at a laptop's 1280 x 800: about ten screens or
    fewer with its solutions folded, and at most five tables. Appendices are records, not
    lessons, and may run longer."""
    from benchmarks.page_length import measure

    html_dir = request.getfixturevalue("quick_book_html")
    browser = request.getfixturevalue("browser")
    rows = [r for r in measure(html_dir, browser) if r["page"][:2].isdigit()]
    assert len(rows) == 7, rows
    long = [r for r in rows if r["screens"] > MAX_SCREENS or r["tables"] > MAX_TABLES]
    assert not long, f"chapters too long for a class: {long}"
