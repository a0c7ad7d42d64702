"""How torch's idle CPU threads wait between kernels: chosen once, before torch loads OpenMP.

A compiled training step is hundreds of short parallel kernels; between them OpenMP's threads
either spin (quick to wake, but they burn a core) or sleep. On a quiet machine a short spin
is as fast as libgomp's default and faster than sleeping; with a core kept busy by another
program, sleeping is fastest and the default spin slowest (study omp_wait). So a short spin where
the machine is quiet when tinylm starts, sleeping where it is not. libgomp (Linux's torch)
reads `GOMP_SPINCOUNT`; elsewhere (macOS's libomp, Windows) only the sleeping choice is
portable, so it stays. A policy the user set is left alone.

Whether the machine is busy is read from the one-minute load average, which costs nothing:
`import tinylm` never waits to sample the CPU.
"""

from __future__ import annotations

import os
import sys

SPIN_COUNT = "10000"  # quiet: as fast as libgomp's default; busy: 2.1x faster than it
BUSY_CORE_PERCENT = 50.0  # other programs' CPU use (percent of one core) that counts as busy
chosen = "not chosen"  # what choose_wait did in this process (recorded in every metrics.json)


def others_busy() -> bool:
    """Whether other programs kept more than half a core busy over the last minute (this
    process is idle, importing); False where there is no load average (Windows)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return load * 100 > BUSY_CORE_PERCENT


def choose_wait(environ=os.environ, platform: str = sys.platform, busy=others_busy,
                torch_loaded: bool | None = None) -> str:
    """Set how OpenMP's threads wait (in `environ`, before torch is imported); says which."""
    global chosen
    if "torch" in sys.modules if torch_loaded is None else torch_loaded:
        chosen = "torch loaded first: OpenMP's own default"
    elif "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        chosen = "as set"
    elif platform.startswith("linux") and not busy():
        environ["GOMP_SPINCOUNT"] = SPIN_COUNT
        chosen = f"spin {SPIN_COUNT}"
    else:
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
        chosen = "passive"
    return chosen
