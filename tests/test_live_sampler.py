"""`nb.live_sampler`: the built book's chapters sample from the model the build trained.

Unit: the pages are written into the book's static folder under content-hashed names, nothing
is written or shown outside a book build, and titles and prompts are escaped. In Chromium: a
chapter-like page's iframe generates from file:// and from a static server, with no request
leaving the machine; and the quick book's chapters carry working samplers.
"""

from __future__ import annotations

import hashlib
import html.parser
import importlib
import re
import urllib.parse

import pytest
import torch
from browser import lab
from fast import TINY_MODEL

from tinylm.core.models import ModelConfig, build_model
from tinylm.notebook import live_sampler
from tinylm.notebook.panels.web import BOOK_PAGE
from tinylm.runs.result import TrainResult

module = importlib.import_module("tinylm.notebook.live_sampler")  # the function shadows it
HOSTILE_TITLE = "<img src=x onerror=alert(1)> & 'q'"
HOSTILE_PROMPT = "\"'><script>alert(1)</script> & café"


def _model(small_data, seed: int):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(vocab_size=small_data.vocab_size, **TINY_MODEL))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture
def static(tmp_path, monkeypatch):
    """A built book's static folder, named as book/build.py names it to the chapters."""
    folder = tmp_path / "html" / "_static"
    folder.mkdir(parents=True)
    monkeypatch.setenv(module.STATIC_ENV, str(folder))
    return folder


class _Iframes(html.parser.HTMLParser):
    def __init__(self, markup: str):
        super().__init__()
        self.frames = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))


# ---------- unit ----------

def test_pages_are_written_with_content_hashes(small_data, static):
    tok = small_data.tokenizer
    a, b = _model(small_data, 0), _model(small_data, 1)
    trained = TrainResult(b, {"val_bpb": 1.2345, "train_seconds": 3.0}, "completed", tokenizer=tok)
    out = live_sampler({"TinyStories": (a, tok), "gpt 2": trained}, "05-sampling")
    assert list(out.pages) == ["TinyStories", "gpt 2"]
    for title, path in out.pages.items():
        assert path.parent == static / "live"
        slug = title.replace(" ", "-")
        assert re.fullmatch(rf"05-sampling-{slug}-[0-9a-f]{{8}}\.html", path.name), path.name
        assert path.name[-13:-5] == hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    assert "val_bpb 1.2345" in out.pages["gpt 2"].read_text()  # a TrainResult's metrics
    assert '"precision":"float16"' in out.pages["gpt 2"].read_text()
    again = live_sampler({"TinyStories": (a, tok)}, "05-sampling")  # same model, same page
    assert again.pages["TinyStories"] == out.pages["TinyStories"]
    assert out.pages["TinyStories"].exists()
    assert len(list((static / "live").iterdir())) == 2
    other = live_sampler({"gpt 2": (a, tok)}, "05-sampling")  # retrained: the old page goes
    assert not out.pages["gpt 2"].exists() and other.pages["gpt 2"].exists()
    assert len(list((static / "live").iterdir())) == 2
    frames = _Iframes(out.markup).frames
    assert [f["data-src"].split("?")[0] for f in frames] == [f"../_static/live/{p.name}"
                                                              for p in out.pages.values()]
    assert all("src" not in f for f in frames)  # set when the reader opens the details
    opened = live_sampler({"TinyStories": (a, tok)}, "05-sampling", expanded=True)
    assert [f["src"] for f in _Iframes(opened.markup).frames] == [frames[0]["data-src"]]
    assert "data-tinylm-live" in out.markup and "tinylm-web-only" in out.markup


def test_nothing_is_written_or_shown_outside_a_book_build(small_data, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    models = {"m": (_model(small_data, 0), small_data.tokenizer)}
    for value in (None, str(tmp_path / "missing")):  # unset (JupyterLab, Colab), or no folder
        if value is None:
            monkeypatch.delenv(module.STATIC_ENV, raising=False)
        else:
            monkeypatch.setenv(module.STATIC_ENV, value)
        out = live_sampler(models, "ch")
        assert out.pages == {} and out.markup == ""
        out._ipython_display_()
    assert shown == [] and list(tmp_path.iterdir()) == []


def test_titles_and_prompts_are_escaped(small_data, static):
    out = live_sampler({HOSTILE_TITLE: (_model(small_data, 0), small_data.tokenizer)}, "ch",
                       prompt=HOSTILE_PROMPT, temperature=1.0, seed=3, max_new_tokens=7)
    assert "<img" not in out.markup and "<script" not in out.markup
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#x27;q&#x27;" in out.markup
    [frame] = _Iframes(out.markup).frames
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(frame["data-src"]).query)
    assert query == {"prompt": [HOSTILE_PROMPT], "temperature": ["1.0"], "seed": ["3"],
                     "max_new_tokens": ["7"], "autorun": ["1"]}
    assert frame["title"] == f"sampler: {HOSTILE_TITLE}"
    [path] = out.pages.values()
    assert re.fullmatch(r"ch-img-src-x-onerror-alert-1-q-[0-9a-f]{8}\.html", path.name)


def test_bad_arguments_are_refused(small_data, static):
    pair = (_model(small_data, 0), small_data.tokenizer)
    with pytest.raises(ValueError, match="name must be"):
        live_sampler({"m": pair}, "../escape")
    with pytest.raises(ValueError, match="non-empty dict"):
        live_sampler({}, "ch")
    with pytest.raises(ValueError, match="same page file"):
        live_sampler({"a b": pair, "a-b": pair}, "ch")
    with pytest.raises(ValueError, match="TrainResult or a"):
        live_sampler({"m": pair[0]}, "ch")
    assert not (static / "live").exists()


# ---------- in Chromium ----------

@pytest.fixture(scope="module")
def browser():
    lab.chromium_path()  # skip (or fail in CI) before starting anything
    with lab.chromium() as b:
        yield b


def _chapter(html_dir, markup: str, book: bool = True):
    """A page where the book puts a chapter, with (or without) what Sphinx pages carry."""
    mark = " data-content_root=\"../\"" if book else ""
    page = html_dir / "chapters" / ("chapter.html" if book else "lab.html")
    page.parent.mkdir(exist_ok=True)
    page.write_text(f"<!DOCTYPE html><html{mark}><head><meta charset='utf-8'></head><body>"
                    f"<p>text above</p>{markup}</body></html>")
    return page


def _frame_generates(browser, url: str, frames: int = 1) -> list[str]:
    """Open `url` with every non-local request blocked; each live iframe's text, once done."""
    with lab.new_page(browser) as page:
        errors, failed, blocked = [], [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
                and failed.append(r.url))

        def only_local(route):
            if route.request.url.startswith(("file://", "http://127.0.0.1:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        page.wait_for_load_state("load")
        assert not [u for u in requests if "/_static/live/" in u]  # nothing before a click
        for summary in page.locator("details[data-tinylm-live] > summary").all():
            summary.click()
        texts = []
        iframes = page.locator("iframe[data-tinylm-live-frame]")
        assert iframes.count() == frames
        for i in range(frames):
            iframe = iframes.nth(i)
            iframe.scroll_into_view_if_needed()
            assert iframe.is_visible()
            frame = iframe.element_handle().content_frame()
            frame.wait_for_selector("[data-tinylm-state=done], [data-tinylm-state=error]",
                                    timeout=120_000)
            root = frame.locator("[data-tinylm-sampler]")
            assert root.get_attribute("data-tinylm-state") == "done", (
                frame.locator("[data-tinylm-status]").text_content())
            texts.append(frame.locator("[data-tinylm-output]").text_content())
        # a static server's missing /favicon.ico logs "Failed to load"; other misses are in failed
        console = [m for m in page.console_errors if not m.startswith("Failed to load resource")]
        assert errors == [] and failed == [] and blocked == [] and console == [], (
            errors, failed, blocked, console)
        return texts


@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "server"])
def test_chapter_iframe_generates(small_data, static, browser, where):
    out = live_sampler({"one": (_model(small_data, 0), small_data.tokenizer),
                        "two": (_model(small_data, 1), small_data.tokenizer)}, "ch",
                       prompt="Once upon a time", max_new_tokens=20)
    html_dir = static.parent
    page = _chapter(html_dir, out.markup)
    if where == "file":
        texts = _frame_generates(browser, page.as_uri(), frames=2)
    else:
        with lab.static_server(html_dir) as base:
            texts = _frame_generates(browser, f"{base}/chapters/{page.name}", frames=2)
    assert all(texts), texts


@pytest.mark.slow
def test_samplers_stay_hidden_outside_the_book(small_data, static, browser):
    """JupyterLab and Colab write none of BOOK_PAGE's marks: the iframes stay hidden there."""
    assert any("data-content_root" in sel for sel in BOOK_PAGE)
    out = live_sampler({"one": (_model(small_data, 0), small_data.tokenizer)}, "ch")
    page = _chapter(static.parent, out.markup, book=False)
    with lab.new_page(browser) as p:
        p.goto(page.as_uri())
        assert p.locator("iframe[data-tinylm-live-frame]").count() == 1
        assert not p.locator("iframe[data-tinylm-live-frame]").is_visible()


LIVE_CHAPTERS = {"01": 2, "03": 2, "05": 1}  # live samplers (iframes) each chapter page shows


@pytest.mark.slow
def test_quick_book_chapters_sample_live(request, browser):
    """The quick book (conftest's `quick_book_html`): its pages landed in _static/live, and a
    chapter's sampler generates from the static server."""
    html_dir = request.getfixturevalue("quick_book_html")
    for stem, count in LIVE_CHAPTERS.items():
        [page] = (html_dir / "chapters").glob(f"{stem}_*.html")
        srcs = re.findall(r"<iframe data-src='\.\./_static/live/([^'?]+)\?", page.read_text())
        assert len(srcs) == count, (stem, srcs)
        assert all((html_dir / "_static" / "live" / s).is_file() for s in srcs), (stem, srcs)
    [page] = (html_dir / "chapters").glob("05_*.html")
    with lab.static_server(html_dir) as base:
        assert all(_frame_generates(browser, f"{base}/chapters/{page.name}"))
