"""Run folders: unique default names, a lock against two runs writing one folder, provenance."""

from __future__ import annotations

import os
import platform
import secrets
import time
from pathlib import Path

import torch
from filelock import FileLock, Timeout

from tinylm.core.folder import reason
from tinylm.machine import allocator, openmp
from tinylm.machine.memory import usable_cpus
from tinylm.version import __version__


def new_run_dir(root: str | Path = "runs") -> Path:
    """A fresh folder name like runs/20261128-201530-a3f9 (never reused)."""
    return Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def make_folder(folder: str | Path) -> Path:
    """Create a run folder, or say in one line why it cannot be (a file in the way, no
    permission, a read-only disk): checked before minutes of work, not after."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot write to {folder}: {reason(e)}; choose another --out folder "
                         "(out_dir=...)") from None
    return folder


class RunLock:
    """Held for a whole run: a second run aimed at the same folder fails at once, clearly."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.lock = None

    def acquire(self) -> None:
        make_folder(self.folder)
        try:
            self.lock = FileLock(str(self.folder / ".run.lock"))
            self.lock.acquire(timeout=0)
        except Timeout:
            raise ValueError(f"{self.folder} is being written by another training run; "
                             "choose another --out folder or wait for it to finish") from None
        except OSError as e:
            raise ValueError(f"cannot write to {self.folder}: {reason(e)}; choose another "
                             "--out folder (out_dir=...)") from None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def environment(device: torch.device, dtype: torch.dtype, threads: int) -> dict:
    """Versions and hardware a result was measured with, recorded in every metrics.json."""
    return {"tinylm_version": __version__, "torch_version": torch.__version__,
            "python_version": platform.python_version(), "platform": platform.platform(),
            "device": str(device), "dtype": str(dtype).removeprefix("torch."),
            "threads": threads, "cpu_count": os.cpu_count(), "usable_cpus": usable_cpus(),
            "kept_freed_memory": allocator.kept(), "omp_wait": openmp.chosen}
