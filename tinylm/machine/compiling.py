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

from tinylm.measured import COMPILE_SPEEDUP

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


def compiled_or_eager(fn, compile: bool):
    """(`fn` compiled if `compile`, else `fn`; whether it is compiled)."""
    if not compile:
        return fn, False
    import torch

    return torch.compile(fn, dynamic=False), True
