"""Sentences about measured outcomes that cannot drift from their numbers.

A chapter states who won, by how much, or whether a text loops, with `claim(holds, sentence)`
instead of typing it in markdown: the sentence is printed only when the numbers bear it out.
When they do not, the chapter either says so (`otherwise=`), or the cell fails, and with it the
full book build, so the prose is fixed before anyone reads it. Runs trained live in quick mode
last seconds and prove nothing, so `live=True` claims only warn there.
"""

from __future__ import annotations

from tinylm.core.quick import is_quick


class ClaimError(AssertionError):
    """A chapter's sentence about its numbers no longer holds: rewrite the sentence."""


def claim(holds: bool, sentence: str, *, otherwise: str | None = None,
          live: bool = False) -> None:
    """Print `sentence` if `holds`, else `otherwise`; with neither, fail (warn for quick live runs).
    Returns nothing, so a claim on a cell's last line is not shown a second time."""
    if holds:
        text = sentence
    elif otherwise is not None:
        text = otherwise
    elif live and is_quick():
        text = f"(quick mode: seconds of training, so this does not hold yet: {sentence})"
    else:
        raise ClaimError(f"the chapter says {sentence!r}, but its numbers no longer show it: "
                         "rewrite the sentence or pass otherwise=")
    print(text)
