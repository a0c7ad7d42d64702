"""Output objects for notebook cells: figures that render themselves as PNG, HTML with a text
fallback, notes, formatted tables, and `show` for output from inside a function.

Figures never touch pyplot: a cell that ends with one shows exactly one image, in JupyterLab
and in the built HTML alike, and the panels can draw from a background thread.
"""

from __future__ import annotations

import base64
import html
import io
import math

import matplotlib.figure
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tinylm.core import quick


def png(fig: matplotlib.figure.Figure, **options) -> bytes:
    """The figure as PNG bytes, drawn on matplotlib's Agg canvas (`options` go to savefig)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **options)
    return buf.getvalue()


# A figure's PNG has DPI pixels per inch, and is shown SHOWN_DPI logical pixels per inch wide
# (the `width` of its display metadata, which JupyterLab and the book both honour), at most
# COLUMN_PX: the book's content column at laptop widths. Sharp on high-density screens, and a
# 6.4-inch figure fills the column instead of 640 of its 730 pixels.
DPI, SHOWN_DPI, COLUMN_PX = 200, 112, 730


def png_width(data: bytes) -> int:
    """The width in pixels of PNG bytes (from the IHDR chunk)."""
    return int.from_bytes(data[16:20], "big")


class Figure(matplotlib.figure.Figure):
    """A matplotlib figure that displays itself as one PNG (pyplot never sees it)."""

    def _repr_png_(self) -> bytes:
        return png(self, dpi=DPI, bbox_inches="tight")

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The PNG with the width to show it at (see DPI)."""
        return image_bundle(self._repr_png_())


def shown_width(data: bytes) -> int:
    """The logical width to show a Figure's PNG at: SHOWN_DPI per inch, at most COLUMN_PX."""
    return min(round(png_width(data) * SHOWN_DPI / DPI), COLUMN_PX)


def image_bundle(data: bytes) -> tuple[dict, dict]:
    """(data, metadata) for IPython's display of a Figure's PNG bytes."""
    encoded = base64.b64encode(data).decode("ascii")
    return {"image/png": encoded}, {"image/png": {"width": shown_width(data)}}


def figure(ncols: int = 1, width: float = 6.4, height: float = 3.6, dpi: float | None = None):
    """A fresh Figure and its axes (a list when `ncols` > 1)."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


class HTML:
    """Rich HTML output (a table, coloured tokens) with a plain-text fallback."""

    def __init__(self, markup: str, text: str = ""):
        self.markup, self.text = markup, text or "(HTML output)"

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


def show(obj) -> None:
    """Display `obj` in a notebook now (from inside a function); print it elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(obj)
    else:
        print(repr(obj))


def note(message: str) -> HTML:
    """A highlighted remark, e.g. that stored results are missing."""
    style = "border-left:4px solid #e9c46a;background:#fdf6e3;padding:6px 10px;margin:4px 0"
    return HTML(f'<div style="{style}">{html.escape(message)}</div>', message)


def mode_note() -> HTML | None:
    """Say so when quick mode shrank the budgets: its numbers are only a smoke test."""
    if quick.is_quick():
        return note("Quick mode (TINYLM_QUICK=1): every training budget is a few seconds, so the "
                    "live numbers on this page are a smoke test, not results.")
    return None


def fmt(value, digits: int = 3) -> str:
    """Numbers for tables: thousands separators for counts, `digits` significant decimals."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 1000 or (value.is_integer() and abs(value) >= 10):
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


# A table wider than its column (the book's is about 730 px) scrolls inside its own box, and
# its column names may break after an underscore.
TABLE_STYLE = ("<style>.tinylm-table {font-size: 90%} .tinylm-table td, .tinylm-table th "
               "{padding: 2px 8px; text-align: left} .tinylm-table td.num {text-align: right}"
               "</style>")


def table(rows: list[dict], columns: list[str] | None = None, digits: int = 3) -> HTML:
    """An HTML table of dicts (columns default to the first row's keys); a note when empty."""
    if not rows:
        return note("Nothing to show yet.")
    columns = columns or list(rows[0])

    def cell(v) -> str:
        kind = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
        return f"<td{kind}>{html.escape(fmt(v, digits))}</td>"

    head = "".join(f"<th>{html.escape(c).replace('_', '_<wbr>')}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(r.get(c)) for c in columns) + "</tr>" for r in rows)
    text = "\n".join(" | ".join(fmt(r.get(c), digits) for c in columns) for r in rows)
    box = '<div class="tinylm-table-box" style="overflow-x:auto;max-width:100%">'
    return HTML(f'{TABLE_STYLE}{box}<table class="tinylm-table"><thead>'
                f"<tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
                " | ".join(columns) + "\n" + text)
