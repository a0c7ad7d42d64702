"""Where tinylm keeps its caches on this machine (tokens, device measurements, running trainings)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """`TINYLM_CACHE_DIR`, else ~/.cache/tinylm."""
    return Path(os.environ.get("TINYLM_CACHE_DIR") or Path.home() / ".cache" / "tinylm")
