"""Code on the page: `source(obj)` shows the package's own source of a function, class or
method, highlighted and titled with its file and line numbers.

A chapter that shows code with this never drifts from the package: the page is rendered from
what is installed (`inspect.getsource`), not from a copy pasted into the notebook.
"""

from __future__ import annotations

import html
import importlib
import inspect
import textwrap
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from tinylm.lab.results import REPO

STYLE = "friendly"  # light background, readable in JupyterLab's light and dark themes alike
BOX = ("border:1px solid #d0d7de;border-radius:6px;margin:6px 0;overflow:hidden;"
       "max-width:100%")
TITLE = ("background:#f0f3f6;color:#24292f;font:12px/1.6 monospace;padding:2px 10px;"
         "border-bottom:1px solid #d0d7de")
FOLD_LINES = 15  # a longer listing starts folded: the chapter stays short, a click opens it


def resolve(target):
    """The object a dotted name means ("tinylm.runs.train._Loop.run"), or `target` itself."""
    if not isinstance(target, str):
        return target
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ValueError(f"cannot import {target!r}")


class Source:
    """A block of source code: HTML (highlighted) for JupyterLab and the book, Markdown and
    plain text elsewhere. `code` holds the lines shown, `first` and `last` their numbers in
    `path`."""

    def __init__(self, code: str, path: str, first: int, last: int, name: str,
                 folded: bool | None = None):
        self.code, self.path, self.first, self.last, self.name = code, path, first, last, name
        self.folded = code.count("\n") + 1 > FOLD_LINES if folded is None else folded

    @property
    def title(self) -> str:
        return f"{self.path}, lines {self.first}–{self.last}: {self.name}"

    def _repr_html_(self) -> str:
        formatter = HtmlFormatter(style=STYLE, noclasses=True, linenos="inline",
                                  linenostart=self.first, cssclass="tinylm-source",
                                  prestyles="margin:0;padding:6px 10px;font-size:12.5px;"
                                            "line-height:1.45;overflow-x:auto")
        body = highlight(self.code, PythonLexer(), formatter)
        title = f"<div style='display:inline'>{html.escape(self.title)}</div>"
        if not self.folded:
            return (f'<div class="tinylm-source-block" style="{BOX}"><div style="{TITLE}">'
                    f"{title}</div>{body}</div>")
        lines = self.last - self.first + 1
        return (f'<details class="tinylm-source-block" style="{BOX}">'
                f'<summary style="{TITLE};cursor:pointer">{title} '
                f"<i>({lines} lines: click to show)</i></summary>{body}</details>")

    def _repr_markdown_(self) -> str:
        return f"`{self.title}`\n\n```python\n{self.code}\n```\n"

    def __repr__(self) -> str:
        return f"# {self.title}\n{self.code}"


def source(obj, lines: tuple[int | str, int | str] | None = None,
           folded: bool | None = None) -> Source:
    """The source of `obj` (a function, class or method, or its dotted name), as a titled,
    highlighted block; longer than `FOLD_LINES` it starts folded (`folded` decides instead).

    `lines=(first, last)` shows part of it: each end a line number counted from the object's
    first line (1), or a string, meaning the first line that contains it (`last` searched from
    `first` on), so a selection follows the code when lines move.
    """
    obj = inspect.unwrap(resolve(obj))
    found, start = inspect.getsourcelines(obj)
    a, b = _select(found, lines) if lines else (0, len(found) - 1)
    code = textwrap.dedent("".join(found[a:b + 1])).rstrip("\n")
    module = inspect.getmodule(obj)
    name = f"{module.__name__}.{obj.__qualname__}" if module else obj.__qualname__
    return Source(code, _relative(inspect.getsourcefile(obj)), start + a, start + b, name,
                  folded)


def _select(found: list[str], lines: tuple) -> tuple[int, int]:
    """0-based indices of the first and last line `lines` selects."""
    first, last = lines
    a = _index(found, first, 0)
    b = _index(found, last, a)
    if b < a:
        raise ValueError(f"lines={lines!r}: the last line comes before the first")
    return a, b


def _index(found: list[str], end: int | str, after: int) -> int:
    if isinstance(end, int):
        if not 1 <= end <= len(found):
            raise ValueError(f"line {end} is outside the object's {len(found)} lines")
        return end - 1
    for i in range(after, len(found)):
        if end in found[i]:
            return i
    raise ValueError(f"no line contains {end!r}")


def _relative(path: str | None) -> str:
    """The file's path from the repository root (tinylm/runs/train.py), or as it is elsewhere."""
    if path is None:
        return "?"
    try:
        return Path(path).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return Path(path).as_posix()
