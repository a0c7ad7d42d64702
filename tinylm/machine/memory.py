"""How much memory is free, and how many cores are really ours?

Inside a container (Binder, JupyterHub, Colab, a class server) the host's RAM and core count
are not what this process may use: the cgroup limits are. psutil reads memory on every
platform (Windows and macOS have no `/proc`); the cgroup files are read where they exist.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import psutil
import torch

CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 writes "no limit" as a huge number (the largest page-aligned int64)
_NO_LIMIT = 2**62


def _read_number(path: Path) -> int | None:
    """An integer cgroup file; None when missing, unreadable or "max" (no limit)."""
    try:
        text = path.read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() and int(text) < _NO_LIMIT else None


def _on_linux() -> bool:
    return sys.platform.startswith("linux")


def cgroup_memory_free(root: Path = CGROUP_ROOT) -> int | None:
    """Bytes left under this container's memory limit (cgroup v2 or v1); None without one."""
    if not _on_linux():
        return None
    for limit, usage in (("memory.max", "memory.current"),
                         ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        cap = _read_number(root / limit)
        if cap is not None:
            return max(0, cap - (_read_number(root / usage) or 0))
    return None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs this container may use (quota / period, cgroup v2 or v1); None without a quota."""
    if not _on_linux():
        return None
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        quota, period = (root / "cpu/cpu.cfs_quota_us", root / "cpu/cpu.cfs_period_us")
        quota, period = _read_number(quota), _read_number(period)
    else:
        quota = int(quota) if quota.isdigit() else None
        period = int(period) if period.isdigit() else None
    return quota / period if quota and period else None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """Cores this process may run on: its CPU affinity, capped by the container's CPU quota."""
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    quota = cgroup_cpu_limit(root)
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def available_bytes(device: torch.device, root: Path = CGROUP_ROOT) -> int | None:
    """Memory this process can still take: free GPU memory (CUDA), the Metal working set and
    RAM (MPS shares it), or available RAM capped by the container's limit (CPU)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    ram = psutil.virtual_memory().available
    container = cgroup_memory_free(root)
    if container is not None:
        ram = min(ram, container)
    if device.type == "mps":
        metal = torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
        return min(ram, metal)
    return ram
