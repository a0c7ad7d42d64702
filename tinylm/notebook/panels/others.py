"""Another tinylm training on this machine (`tinylm.machine.busy`), said before the panel trains.

Two trainings on one laptop each run several times slower, so the panel says so when Train is
pressed and lets the student choose: wait for the other (in the training thread, cancelled by
Stop) or train anyway. `tinylm.train` then gets `if_busy="go"`: the panel has decided.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

from tinylm.machine import busy
from tinylm.notebook.panels.web import BOX

POLL_S = busy.POLL_S


def find() -> list[dict]:
    """The other trainings running now; [] if the registry cannot be read (a courtesy)."""
    try:
        return busy.others()
    except Exception:
        return []


def notice_html(entries: list[dict]) -> str:
    text = busy.notice(entries)
    return (f"<div style='{BOX}'><b>Before you train:</b> "
            f"{html.escape(text[0].upper() + text[1:])}. Wait for it to finish, or train anyway "
            "(both will be slower).</div>")


def waiting_text(entries: list[dict]) -> str:
    who = ", ".join(str(e["pid"]) for e in entries)
    return f"Waiting for PID {who} to finish (the other training): Stop cancels the wait."


def wait_for_others(stop: threading.Event, say: Callable[[str], None]) -> bool:
    """Block until no other training runs (True) or `stop` is set (False), saying who is
    awaited. A KeyboardInterrupt (the Colab Stop) counts as `stop`."""
    try:
        while entries := find():
            say(waiting_text(entries))
            if stop.wait(POLL_S):
                return False
    except KeyboardInterrupt:
        return False
    return True
