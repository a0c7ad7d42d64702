"""`nb.live_sampler`: in the built book, a reader writes with the very model the build trained.

The book runs each chapter once; a chapter's sampling panel then needs a Python kernel that a
web page does not have. This writes, for each trained model, the self-contained sampler page of
`python -m tinylm web` (tinylm.web: the forward pass in JavaScript, weights inside the page)
into the book's static folder, and shows the pages side by side in iframes, in the web edition
only (`panels.web.web_only`): JupyterLab and Colab keep their Python panels. They sit behind
one line the reader clicks, so a chapter grows by a line and loads no model until asked.

Where the pages go: `book/build.py` names its build's `_build/html/_static` folder in
TINYLM_BOOK_STATIC, which the executing chapters inherit, and the pages are written straight
into it (Sphinx adds html_static_path's files there later and deletes none). So the quick, the
full and a test's build each serve their own models, and a chapter served from the execution
cache points at the page its own build wrote. Anywhere else (JupyterLab, Colab, a test run of a
chapter) the variable is unset: nothing is written and nothing is shown, so running a chapter
never piles up pages in a checkout. A page's name carries a hash of its content (a browser
never shows a cached older model); writing it removes the older pages of that chapter's model.

Weights are float16: half the page of float32. It can flip a greedy near-tie against Python's
text, which does not matter here: the book's iframes sample (temperature 0.8), and no prose
quotes what they write.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import tempfile
import urllib.parse
from pathlib import Path

from tinylm.core import checkpoint
from tinylm.core.folder import atomic_write
from tinylm.notebook.panels.web import STYLE, web_only
from tinylm.runs.result import TrainResult
from tinylm.web import model_payload, render

STATIC_ENV = "TINYLM_BOOK_STATIC"  # set by book/build.py: its build's _build/html/_static
LIVE = "live"  # the pages' folder inside it
PAGE_URL = "../_static/" + LIVE  # from a chapter page, _build/html/chapters/<chapter>.html
PRECISION = "float16"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# the details' ontoggle: give each iframe its page once (an attribute: no <script> needed)
LOAD = ('for (const f of this.querySelectorAll("iframe[data-src]")) '
        'if (!f.getAttribute("src")) f.src = f.dataset.src')
BOX = ("border-left:4px solid #2a9d8f;background:#eef8f6;padding:6px 10px;margin:8px 0;"
       "line-height:1.45")


def book_static() -> Path | None:
    """The built book's static folder when a book build runs this chapter, else None."""
    folder = os.environ.get(STATIC_ENV, "").strip()
    return Path(folder) if folder and Path(folder).is_dir() else None


class LiveSampler:
    """The cell's output: the iframes (web edition only), or nothing when no page was written."""

    def __init__(self, pages: dict[str, Path], markup: str):
        self.pages, self.markup = pages, markup

    def _ipython_display_(self):
        if self.pages:
            from IPython.display import display

            text = f"(live sampler: {', '.join(self.pages)}; shown in the web edition)"
            display({"text/html": self.markup, "text/plain": text}, raw=True)

    def __repr__(self) -> str:
        return f"LiveSampler({', '.join(f'{k}: {p.name}' for k, p in self.pages.items())})"


def live_sampler(models: dict, name: str, prompt: str = "Once upon a time",
                 temperature: float = 0.8, seed: int = 0, max_new_tokens: int = 120,
                 height: int = 560, expanded: bool = False) -> LiveSampler:
    """Sampler pages for `models` ({title: TrainResult or (model, tokenizer)}) named
    `name`-<title>-<hash>.html, shown side by side, each starting on `prompt`, behind a
    line the reader clicks (already open with `expanded`)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"name must be letters, digits, '-' or '_' (it names the page files), "
                         f"got {name!r}")
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {title: TrainResult or (model, "
                         "tokenizer)}")
    parts = {str(title): _parts(title, m) for title, m in models.items()}
    if len({_slug(t) for t in parts}) < len(parts):
        raise ValueError(f"titles {list(parts)} name the same page file; make them differ in "
                         "letters or digits")
    static = book_static()
    if static is None:
        return LiveSampler({}, "")
    folder = static / LIVE
    folder.mkdir(parents=True, exist_ok=True)
    pages = {title: write_live_page(folder=folder, stem=f"{name}-{_slug(title)}", **kw)
             for title, kw in parts.items()}
    query = {"prompt": prompt, "temperature": temperature, "seed": seed,
             "max_new_tokens": max_new_tokens, "autorun": 1}
    return LiveSampler(pages, live_html(pages, query, height, expanded))


def write_live_page(model, tokenizer, folder: Path, stem: str, info: dict | None = None,
                    metrics: dict | None = None) -> Path:
    """Write the model's sampler page as `folder`/`stem`-<sha8 of the page>.html; its path."""
    with tempfile.TemporaryDirectory(prefix="tinylm-live-") as tmp:
        run = checkpoint.save(Path(tmp) / "model", model, tokenizer, info or {}, metrics)
        page = render(model_payload(run, PRECISION, verify=False))
    path = folder / f"{stem}-{hashlib.sha256(page.encode()).hexdigest()[:8]}.html"
    if not path.exists():
        atomic_write(path, page)
    for old in folder.glob(f"{stem}-*.html"):  # this model's earlier pages
        if old != path and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{8}\.html", old.name):
            old.unlink(missing_ok=True)
    return path


def live_html(pages: dict[str, Path], query: dict, height: int = 560, expanded: bool = False) -> str:
    """One titled column per page, each an iframe that starts generating when it loads, inside
    a <details> that is closed unless `expanded`: one line of the chapter until a reader opens
    it, and no page fetched nor model run before then (Chromium loads even a lazy iframe that
    is not rendered, so the src is set when the details opens)."""
    columns = []
    for title, path in pages.items():
        src = f"{PAGE_URL}/{urllib.parse.quote(path.name)}?{urllib.parse.urlencode(query)}"
        columns.append(
            "<div style='flex:1 1 320px;min-width:0'>"
            f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>"
            f"<iframe {'src' if expanded else 'data-src'}='{html.escape(src)}' "
            f"title='{html.escape(f'sampler: {title}')}' data-tinylm-live-frame "
            f"style='width:100%;height:{int(height)}px;"
            "border:1px solid #ccc;border-radius:4px'></iframe></div>")
    one = len(pages) == 1
    which = "this model" if one else "these models"
    summary = (f"<summary style='cursor:pointer'><b>Write with {which} in your browser</b> "
               "(live, no Python needed)</summary>")
    hint = (f"<p style='margin:6px 0'>The model{'' if one else 's'} this chapter trained when "
            "this page was built, running in your browser: change the prompt or the settings "
            "and press Generate; click a token to see its alternatives.</p>")
    row = "<div style='display:flex;gap:12px;flex-wrap:wrap'>" + "".join(columns) + "</div>"
    box = (f"<details data-tinylm-live{' open' if expanded else ''} ontoggle='{LOAD}'>"
           f"{summary}{hint}{row}</details>")
    return STYLE + web_only(box, "div", BOX)


def _parts(title, m) -> dict:
    """write_live_page's model, tokenizer and (for a TrainResult) what its header shows."""
    if isinstance(m, TrainResult):
        if m.tokenizer is None:
            raise ValueError(f"models[{title!r}] has no tokenizer; pass (model, tokenizer)")
        return {"model": m.model, "tokenizer": m.tokenizer, "metrics": m.metrics,
                "info": {**m.info, "status": m.status}}
    if isinstance(m, (tuple, list)) and len(m) == 2:
        return {"model": m[0], "tokenizer": m[1]}
    raise ValueError(f"models[{title!r}] must be a TrainResult or a (model, tokenizer) pair, "
                     f"got {type(m).__name__}")


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", title).strip("-") or "model"
