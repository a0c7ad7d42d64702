"""The texts a training panel shows: counts (1.2M), sizes (340 MB), problems in red, and the
labels next to its sliders and under its plot."""

from __future__ import annotations

import html

from tinylm.notebook.panels.web import live_or_web, web_only

# The built book shows the numbers of the machine that ran its chapters, not the reader's.
BUILT_HERE = web_only(" on the machine that built this page")


def human(n: float) -> str:
    """A count with a k/M/B suffix and three significant digits."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def size(n: float) -> str:
    """A number of bytes in kB/MB/GB (binary)."""
    for unit, step in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= step:
            return f"{n / step:.3g} {unit}"
    return f"{n:.0f} B"


def red(text: str) -> str:
    """`text` escaped, as a red HTML span (a problem the student should see)."""
    return f"<span style='color:#c62828'>{html.escape(text)}</span>"


def params_text(n: int, embedding: int) -> str:
    return f"<b>{n:,}</b> parameters ({human(n)}; {human(embedding)} of them in the token embedding)"


def memory_text(need: float, have: float | None, problem: str | None) -> str:
    memory = f"memory for training: about {size(need)}"
    if have is not None:
        memory += f" of {size(have)} available"
    if problem:
        return red(memory + ": too big, " + problem.split(": ")[-1])
    return memory + (BUILT_HERE if have is not None else "")


def tokens_text(expected: tuple[float, bool] | None, budget: float, tokens_per_step: int) -> str:
    """What the budget buys at `expected` = (tokens/s, measured exactly?) or None (unknown)."""
    if expected is None:
        return f"tokens in {budget} s: unknown (speed not measured)"
    tps, exact = expected
    steps = tps * budget / tokens_per_step
    how = "measured" if exact else "estimated"
    return (f"expect about <b>{human(tps * budget)} tokens</b> in {budget} s "
            + live_or_web("on this machine", "on the machine that built this page") + " "
            f"({human(tps)} tokens/s {how}; about {human(steps)} optimizer steps)")


def metrics_text(m: dict, status: str, budget_s: float, message: str = "") -> str:
    """The line under the plot once a run has ended: its score, size, speed and how it ended."""
    early = (f" after {m['train_seconds']:.1f} of {budget_s:.0f} s; the model trained so far "
             "is kept")
    how = {"completed": "", "stopped": " · <b>stopped early</b>" + early,
           "interrupted": " · <b>interrupted</b> (stopped early)" + early,
           "diverged": f" · <b>diverged</b>: {html.escape(message)}"}
    return (f"<b>val_bpb {m['val_bpb']:.3f}</b> bits per byte · perplexity {m['val_ppl']:.2f} · "
            f"{human(m['tokens_seen'])} tokens in {m['train_seconds']:.1f} s "
            f"({human(m['tokens_per_s'])}/s) · {human(m['params'])} parameters"
            f"{device_text(m)}" + how.get(status, f" · {html.escape(status)}"))


def device_text(m: dict) -> str:
    """ · on cpu (bfloat16; measured fastest here)': where the run trained, and why there."""
    if not m.get("device"):
        return ""
    choice = m.get("device_choice") or {}
    how = (choice.get("how") or "").split(", cached in")[0]  # the cache path is no news here
    why = {"measured": "measured fastest here"}.get(how, how)
    details = ", ".join(x for x in (m.get("dtype"), why) if x)
    return f" · on {html.escape(str(m['device']))}" + (f" ({html.escape(details)})" if details else "")


def story_html(prompt: str, story: str) -> str:
    """A generated story, its prompt in bold."""
    return ("<div style='white-space:pre-wrap;border-left:3px solid #999;padding-left:8px'>"
            f"<b>{html.escape(prompt)}</b>{html.escape(story[len(prompt):])}</div>")
