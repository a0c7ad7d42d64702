"""Diagrams drawn by code: they render the same in JupyterLab and the built book, and need
no image files that could go missing."""

from __future__ import annotations

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from tinylm.notebook.display import Figure, figure

STREAM = "#e8eef6"  # the residual stream's parts
WRITE = "#f6d8a8"  # the part the student writes
LINE = "#3b4a5a"


def _box(ax, x: float, y: float, text: str, w: float = 3.6, h: float = 0.62,
         colour: str = STREAM, size: float = 8.5) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=colour, edgecolor=LINE, linewidth=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, color="#1b2733")


def _arrow(ax, start: tuple, end: tuple, style: str = "-|>", dashed: bool = False,
           bend: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, color=LINE,
                                 linewidth=0.9, linestyle="--" if dashed else "-",
                                 connectionstyle=f"arc3,rad={bend}", shrinkA=0, shrinkB=0))


def _plus(ax, x: float, y: float) -> None:
    ax.add_patch(FancyBboxPatch((x - 0.17, y - 0.17), 0.34, 0.34, boxstyle="circle,pad=0",
                                facecolor="white", edgecolor=LINE, linewidth=0.9))
    ax.text(x, y, "+", ha="center", va="center", fontsize=10, color=LINE)


def gpt_diagram() -> Figure:
    """GPT-2's shape, from token ids to logits, with the shapes of what flows between the
    parts (B sequences, T tokens each, width numbers per token) and attention highlighted."""
    fig, ax = figure(width=6.4, height=6.6)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 15.4)
    ax.axis("off")
    cx, side = 5.0, 1.5  # the stream's centre line; the residual path's x
    y = 14.9
    ax.text(cx, y, "token ids  [B, T]", ha="center", va="center", fontsize=9, weight="bold")
    _box(ax, 3.3, 13.9, "token embedding  tok_emb\n[vocab, width] table", w=3.2, h=0.7)
    _box(ax, 6.9, 13.9, "position embedding  pos_emb\n[context, width] table", w=3.4, h=0.7)
    _arrow(ax, (cx - 0.3, 14.65), (3.3, 14.25))
    _arrow(ax, (cx + 0.3, 14.65), (6.9, 14.25))
    _plus(ax, cx, 12.95)
    _arrow(ax, (3.3, 13.55), (cx - 0.15, 13.05))
    _arrow(ax, (6.9, 13.55), (cx + 0.15, 13.05))
    ax.text(cx + 0.35, 12.6, "x  [B, T, width]", fontsize=8, va="center", color=LINE)

    # one block, repeated: pre-norm, attention, add; pre-norm, MLP, add
    top, bottom = 12.2, 4.45
    ax.add_patch(FancyBboxPatch((0.6, bottom), 8.8, top - bottom,
                                boxstyle="round,pad=0.02,rounding_size=0.2", facecolor="none",
                                edgecolor="#8a97a6", linewidth=1.0, linestyle="--"))
    ax.text(9.25, top - 0.3, "block\n× layers", ha="right", va="top", fontsize=8.5,
            color="#4a5866", style="italic")
    _arrow(ax, (cx, 12.78), (cx, 11.45))
    rows = [(11.1, "LayerNorm  norm1", STREAM),
            (9.95, "causal self-attention  attn\nyou write its core", WRITE),
            (8.75, None, None),
            (7.6, "LayerNorm  norm2", STREAM),
            (6.45, "MLP  up → GELU → proj\nwidth → 4 × width → width", STREAM),
            (5.25, None, None)]
    rows.append((3.65, "final LayerNorm  norm", STREAM))  # after the block

    def half(text: str | None) -> float:  # half the height of a row's box (or of a +)
        return 0.17 if text is None else 0.36 if "\n" in text else 0.31

    for (y, text, colour), (y_next, text_next, _) in zip(rows, rows[1:]):
        if text is None:
            _plus(ax, cx, y)
        elif y > 4:
            _box(ax, cx, y, text, h=2 * half(text), colour=colour)
        _arrow(ax, (cx, y - half(text)), (cx, y_next + half(text_next)))
    for start, end in ((11.7, 8.75), (8.4, 5.25)):  # the residual path around each half
        ax.plot([cx, side, side], [start, start, end], color=LINE, linewidth=0.9)
        _arrow(ax, (side, end), (cx - 0.17, end))
        ax.text(side - 0.1, (start + end) / 2, "residual", rotation=90, ha="right",
                va="center", fontsize=7.5, color="#4a5866")

    _box(ax, cx, 3.65, rows[-1][1])
    _arrow(ax, (cx, 3.34), (cx, 2.81))
    _box(ax, cx, 2.5, "head: a Linear tied to tok_emb\n(the same [vocab, width] table)", h=0.72)
    _arrow(ax, (cx, 2.14), (cx, 1.35))
    ax.text(cx, 1.05, "logits  [B, T, vocab]: a score for every next token", ha="center",
            va="center", fontsize=9, weight="bold")
    # tied: the head's weight is the token table (a dashed line around the left)
    ax.plot([cx - 1.8, 0.25, 0.25, 1.7], [2.5, 2.5, 13.9, 13.9], color=LINE, linewidth=0.9,
            linestyle="--")
    ax.text(0.1, 8.3, "tied: the same weights", rotation=90, ha="right", va="center",
            fontsize=7.5, color="#4a5866")
    return fig
