"""What a panel says in the web edition (the built book), where no kernel answers it.

The book runs each chapter once and embeds the panels' widget state, so a reader sees sliders
and buttons that do nothing. A panel cannot know where it will be read (the same executed
notebook opens in JupyterLab, Colab or the book), so its HTML always carries the note, hidden
by an inline style, and a CSS rule shows it under selectors only Sphinx pages have: Sphinx
7.2+ writes `data-content_root` on `<html>`, pydata-sphinx-theme (Jupyter Book 1's) writes
`data-default-mode` on `<body>`; JupyterLab, Notebook, Colab and VS Code write neither. Where
the rule does not load, the note stays hidden: a live panel is never covered by it.
"""

from __future__ import annotations

import html

import ipywidgets as W

from tinylm import version

WEB_ONLY, LIVE_ONLY = "tinylm-web-only", "tinylm-live-only"
BOOK_PAGE = ("html[data-content_root]", "body[data-default-mode]")
STYLE = ("<style>"
         + ", ".join(f"{page} .{WEB_ONLY}" for page in BOOK_PAGE) + " {display: revert !important} "
         + ", ".join(f"{page} .{LIVE_ONLY}" for page in BOOK_PAGE) + " {display: none !important}"
         "</style>")
BOX = ("border-left:4px solid #e9c46a;background:#fdf6e3;color:#333;padding:6px 10px;"
       "margin:4px 0 8px 0;line-height:1.45")


def web_only(markup: str, tag: str = "span", style: str = "") -> str:
    """`markup` shown only in the web edition."""
    return f"<{tag} class='{WEB_ONLY}' style='display:none;{style}'>{markup}</{tag}>"


def live_or_web(live: str, web: str) -> str:
    """`live` where a kernel runs the panel, `web` (markup both) in the web edition."""
    return f"<span class='{LIVE_ONLY}'>{live}</span>" + web_only(web)


def note_html(what: str) -> str:
    """The note at the top of a panel: it needs a running Python kernel, and how to get one."""
    url = version.PROJECT_URL
    readme = (f"<a href='{html.escape(url)}#setting-up-on-your-machine' target='_blank'>"
              "the README's set-up</a>" if url else "the set-up in tinylm's README")
    launch = (" Or press the launch button (the rocket at the top of this page) to run this "
              "chapter on Binder or Colab, then run its cells." if url else "")
    return STYLE + web_only(
        f"<b>This {html.escape(what)} needs a running Python kernel.</b> On this web page it is "
        "a picture: the controls move, but nothing trains or writes. To use it, open the "
        f"chapter in JupyterLab on your computer: after {readme}, run "
        "<code>.venv/bin/jupyter lab chapters/</code> in the tinylm folder, open this chapter "
        f"and run its cells.{launch}", "div", BOX)


def web_note(what: str) -> W.HTML:
    """The note as a widget (class tinylm-web-note), first in a panel."""
    note = W.HTML(note_html(what))
    note.add_class("tinylm-web-note")
    return note
