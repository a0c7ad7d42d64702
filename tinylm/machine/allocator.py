"""Keep a training step's freed buffers in the process (Linux with glibc).

Every step allocates the same large buffers (the [tokens, vocabulary] logits and their
gradients: tens of MB) and frees them again. glibc's default gives such blocks back to the
kernel (`munmap`, or trimming the top of the heap), so the next step takes a page fault for
every 4 KiB page it touches again: thousands of faults per step (study malloc_speed). Raising
glibc's mmap and trim thresholds keeps the blocks for reuse, which is what a caching allocator
(jemalloc, tcmalloc, PyTorch's own on GPUs) does; those need a relaunch with `LD_PRELOAD`, so
two `mallopt` calls through ctypes do it instead. macOS, Windows and musl have other
allocators: nothing to do. After a run, `give_back` returns the kept memory to the system, so a
notebook kernel does not hold a training run's peak once it is over. """

from __future__ import annotations

import ctypes
import os
import platform

# glibc's <malloc.h>: mallopt parameters
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 1 << 30  # blocks up to 1 GiB come from the heap and stay there when freed
ENV_SWITCH = "TINYLM_KEEP_FREED_MEMORY"  # "0": glibc's defaults (for the side-by-side benchmark)

_kept = False


def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """Keep freed blocks for reuse from now on; True where it took effect (glibc only)."""
    global _kept
    if _kept:
        return True
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    libc = _glibc()
    if libc is None:
        return False
    _kept = bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)
                 and libc.mallopt(M_TRIM_THRESHOLD, 2 * KEEP_BYTES - 1))
    return _kept


def kept() -> bool:
    """Whether this process keeps freed blocks (recorded in every metrics.json)."""
    return _kept


def give_back() -> None:
    """Return free heap memory to the system (after a run); the thresholds stay raised."""
    libc = _glibc() if _kept else None
    if libc is not None:
        libc.malloc_trim(0)
