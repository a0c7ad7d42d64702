"""torch.compile only where it can work, and a fall back to eager that costs seconds, not a run.

Inductor turns the model into C++ (on a CPU) and needs a working C++ compiler and the Python
headers; a student's Windows laptop or a bare Linux image often has neither. Checking first
costs milliseconds; finding out by compiling costs several seconds of the budget and prints a
warning nobody can act on. A failure is remembered for the rest of the process, so a notebook
pays for it once.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import sysconfig

from .measured import COMPILE_MIN_BUDGET_S, COMPILE_SPEEDUP

HOW_TO_GET_ONE = {
    "win32": "install the Visual Studio Build Tools (the 'Desktop development with C++' workload)",
    "darwin": "run `xcode-select --install`",
}
_failure: str | None = None  # why compiling failed earlier in this process


def how_to_fix() -> str:
    get = HOW_TO_GET_ONE.get(sys.platform, "install g++ (for example `sudo apt install g++`)")
    return f"{get}, or pass --compile off (compile='off') to skip compiling"


@functools.cache
def _toolchain_problem() -> str | None:
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        compiler = get_cpp_compiler()
    except Exception:  # inductor raises its own error types when nothing is found
        return "no C++ compiler found"
    if shutil.which(compiler) is None and not os.path.isfile(compiler):
        return f"the C++ compiler {compiler!r} is not on PATH"
    include = sysconfig.get_paths().get("include") or ""
    if not os.path.isfile(os.path.join(include, "Python.h")):
        return f"the Python headers are missing (no Python.h in {include or 'the include path'})"
    return None


def compile_problem(device_type: str = "cpu") -> str | None:
    """Why torch.compile cannot work here, in a few words, or None when it should."""
    if _failure is not None:
        return _failure
    if device_type == "mps":
        return "torch.compile is unreliable on Apple MPS"
    return _toolchain_problem()


def remember_failure(error: BaseException) -> str:
    """Record that compiling failed in this process; returns the one-line notice to show."""
    global _failure
    first = (str(error).strip().splitlines() or [""])[0][:160]
    _failure = f"torch.compile failed earlier in this process ({type(error).__name__})"
    return notice(f"torch.compile failed ({type(error).__name__}: {first})")


def notice(problem: str) -> str:
    return (f"{problem}; training without torch.compile (where it works it trains "
            f"{COMPILE_SPEEDUP:.1f}x faster). To compile: {how_to_fix()}")


def forget_failure() -> None:
    """Let the next run try compiling again (tests; after installing a compiler)."""
    global _failure
    _failure = None
    _toolchain_problem.cache_clear()


def compiled_or_eager(fn, cfg, device, distributed: bool = False, say: bool = True):
    """(`fn` compiled if the run should compile, else `fn`; whether it is compiled). A run that
    would compile but cannot here says why in one line, with the fix (when `say`)."""
    skipped = skipped_notice(cfg, device, distributed)
    if skipped and say:
        print(f"tinylm: {skipped}", file=sys.stderr)
    if not want_compile(cfg, device, distributed):
        return fn, False
    import torch

    return torch.compile(fn, dynamic=False), True


def skipped_notice(cfg, device, distributed: bool = False) -> str | None:
    """The one line to print when a run that would compile (asked, or "auto" with a budget that
    repays it) trains eager for a reason the student can fix; None otherwise."""
    if want_compile(cfg, device, distributed) or cfg.compile == "off":
        return None
    if cfg.compile == "on":
        return notice(compile_problem(device.type) or "torch.compile is not available")
    if distributed or cfg.budget_s < COMPILE_MIN_BUDGET_S or device.type == "mps":
        return None  # "auto" chose eager on purpose: nothing to fix
    return notice(compile_problem(device.type))


def want_compile(cfg, device, distributed: bool = False) -> bool:
    """Whether a run with TrainConfig `cfg` on `device` compiles: when asked and possible, or on
    "auto" when the budget repays it and a compiler is there."""
    if cfg.compile == "off":
        return False
    problem = compile_problem(device.type)
    if cfg.compile == "auto":
        return not distributed and cfg.budget_s >= COMPILE_MIN_BUDGET_S and problem is None
    return problem is None
