"""Freed training buffers stay in the process on glibc (`tinylm.machine.allocator`), and nothing
happens on other platforms or when switched off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tinylm.machine import allocator
from tinylm.runs.folders import environment

# in a process that has loaded the trainer (as a training process has: the heap's layout
# depends on what was loaded first), allocate, touch and free a 64 MiB buffer six times; print
# the page faults of the last three (the first rounds settle the heap and torch's thread pool)
FAULTS = """
import resource, sys, torch
import tinylm.runs.train
from tinylm.machine import allocator
print(allocator.keep_freed_memory(), file=sys.stderr)
def touch():
    t = torch.empty(64 << 20, dtype=torch.uint8); t.fill_(1); del t
for _ in range(3):
    touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    touch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES = 3 * (64 << 20) // 4096  # pages touched by the three measured rounds


def _faults(switch: str) -> int:
    env = {**os.environ, allocator.ENV_SWITCH: switch}
    done = subprocess.run([sys.executable, "-c", FAULTS], env=env, capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the mallopt calls are glibc's")
def test_reused_buffers_take_no_page_faults_on_glibc():
    assert _faults("0") > PAGES // 2  # glibc's defaults: the pages come back from the kernel
    assert _faults("1") < PAGES // 100  # kept: the same pages are reused


def test_other_platforms_and_the_switch_leave_malloc_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_kept", False)
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert allocator.keep_freed_memory() is False
    assert allocator.kept() is False
    allocator.give_back()  # a no-op, no error
    monkeypatch.setattr(platform, "system", lambda: "Windows")
    assert allocator.keep_freed_memory() is False
    monkeypatch.undo()
    monkeypatch.setattr(allocator, "_kept", False)
    monkeypatch.setenv(allocator.ENV_SWITCH, "0")
    assert allocator.keep_freed_memory() is False


def test_metrics_say_whether_memory_was_kept(monkeypatch):
    import torch

    monkeypatch.setattr(allocator, "_kept", True)
    assert environment(torch.device("cpu"), torch.float32, 1)["kept_freed_memory"] is True
    monkeypatch.setattr(allocator, "_kept", False)
    assert environment(torch.device("cpu"), torch.float32, 1)["kept_freed_memory"] is False
