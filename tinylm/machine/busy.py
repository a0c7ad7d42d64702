"""Is another tinylm training running on this machine? Say so before starting a second one.

Two torch processes that each use every core run several times slower than one alone (8x
measured on the 2-core machine), so two students' numbers, or two notebooks', both become
nonsense. Each running training leaves a small file in the cache folder (`trainings/PID.json`:
PID, start time, budget, what it runs); a file whose process is gone (or whose PID now belongs
to a newer process) is stale and ignored.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil

from tinylm.machine.cache import default_cache_dir

BUSY_CHOICES = ("warn", "wait", "go")  # say so and go on | wait for them | go on silently
POLL_S = 2.0


def _folder(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "trainings"


def _started(pid: int) -> float | None:
    """When process `pid` started, or None when there is no such (running) process."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except (psutil.Error, OSError):
        return None


def others(cache_dir: str | Path | None = None) -> list[dict]:
    """The other trainings running on this machine now (not this process's), oldest first."""
    found = []
    for f in sorted(_folder(cache_dir).glob("*.json")):
        try:
            entry = json.loads(f.read_text())
            pid, created = int(entry["pid"]), float(entry["process_started"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid():
            continue
        alive = _started(pid)
        if alive is None or abs(alive - created) > 1.0:  # gone, or the PID was reused
            f.unlink(missing_ok=True)
            continue
        found.append(entry)
    return sorted(found, key=lambda e: e.get("started", 0))


def describe(entry: dict) -> str:
    since = time.strftime("%H:%M:%S", time.localtime(entry.get("started", 0)))
    budget = entry.get("budget_s")
    return (f"PID {entry['pid']}, started {since}"
            + (f", {budget:g} s budget" if isinstance(budget, (int, float)) else "")
            + (f": {entry['what']}" if entry.get("what") else ""))


def notice(entries: list[dict]) -> str:
    """One line: who else is training, and why it matters."""
    who = "; ".join(describe(e) for e in entries)
    return (f"another tinylm training is running on this machine ({who}); two trainings share "
            "the CPU cores and both run several times slower, so their numbers are not "
            "comparable")


class Registration:
    """This process's entry, held while it trains (a context manager)."""

    def __init__(self, budget_s: float, cache_dir: str | Path | None = None):
        self.path = _folder(cache_dir) / f"{os.getpid()}.json"
        self.entry = {"pid": os.getpid(), "process_started": _started(os.getpid()),
                      "started": time.time(), "budget_s": budget_s,
                      "what": " ".join(Path(a).name if i == 0 else a
                                       for i, a in enumerate(sys.argv[:6]))}

    def __enter__(self) -> Registration:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.entry))
        except OSError:  # a notice is a courtesy: never stop a training for it
            pass
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def check(if_busy: str = "warn", cache_dir: str | Path | None = None,
          poll_s: float = POLL_S, say=None) -> list[dict]:
    """Before training: report other trainings ("warn"), block until they have ended ("wait")
    or say nothing ("go").
    Returns the trainings found at first."""
    if if_busy not in BUSY_CHOICES:
        raise ValueError(f"unknown if_busy {if_busy!r}: use one of {', '.join(BUSY_CHOICES)}")
    say = say or (lambda text: print(f"tinylm: {text}", file=sys.stderr, flush=True))
    found = others(cache_dir)
    if not found or if_busy == "go":
        return found
    if if_busy == "warn":
        say(notice(found) + ". Going on anyway")
        return found
    say(notice(found) + ". Waiting for it to finish (Ctrl-C to stop waiting; --if-busy go "
        "trains alongside it)")
    while others(cache_dir):
        time.sleep(poll_s)
    say("the other training has finished: starting")
    return found
