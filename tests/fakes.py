"""Fakes for the platform branches no test machine has (an Apple GPU, an empty machine cache),
shared by test_platforms.py and test_calibrate.py."""

from __future__ import annotations

import torch

GiB = 2**30


def fresh_machine(monkeypatch, tmp_path):
    """An empty machine-measurement cache of the test's own; no other training running."""
    from tinylm.tuning import probe as machine

    monkeypatch.setenv("TINYLM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(machine, "_memo", {})
    monkeypatch.setattr(machine.busy, "others", lambda *a: [])
    return tmp_path


def apple_gpu(monkeypatch, metal_bytes: int = 16 * GiB):
    """torch sees an Apple GPU (MPS) with `metal_bytes` of working set, none of it in use."""
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: metal_bytes)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 0)
