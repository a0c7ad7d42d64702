"""Google Colab: how its widgets work, and what Stop is there.

Colab renders ipywidgets 8 only after `google.colab.output.enable_custom_widget_manager()`
(googlecolab/colabtools#3020), and widget updates made from a background thread may never
show (#4525, #3373). So on Colab the training panel enables the manager once and trains in
the Train click handler itself; Stop is then the kernel interrupt, a KeyboardInterrupt that
`tinylm.train` turns into an "interrupted" result keeping the model.
"""

from __future__ import annotations

import importlib
import sys

STATE = {"enabled": False}
NOTE = ("On Colab the panel trains in the foreground: to stop a run early, press the ■ "
        "interrupt button (or Runtime ▸ Interrupt execution, Ctrl+M I); the model trained so "
        "far is kept.")


def active() -> bool:
    """Running in a Colab kernel?"""
    return "google.colab" in sys.modules


def enable_widgets() -> None:
    """On Colab, turn on its custom widget manager, once per kernel (before a panel is shown)."""
    if not active() or STATE["enabled"]:
        return
    try:
        output = getattr(sys.modules["google.colab"], "output", None) \
            or importlib.import_module("google.colab.output")
        output.enable_custom_widget_manager()
    except Exception:  # a Colab without it: its widgets may work without, never fail for it
        return
    STATE["enabled"] = True
