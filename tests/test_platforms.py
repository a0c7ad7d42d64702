"""Every platform branch, tested here with fakes: an Apple GPU slower or faster than the CPU, a
CUDA GPU of a T4's generation, Windows without /proc, container (cgroup) limits, Hub mirrors
and proxies. (Set-up on each platform: test_setup.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import fakes
import pytest
import torch

from tinylm.core import hub
from tinylm.core.corpus import DataError, load_corpus
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import RunSpec, resolve
from tinylm.machine import device, memory
from tinylm.measured import LR_BATCH_EXPONENT, LR_BATCH_EXPONENT_MEASURED
from tinylm.tuning import probe as machine

ROOT = Path(__file__).resolve().parents[1]
GiB = fakes.GiB


@pytest.fixture
def fresh_machine(monkeypatch, tmp_path):
    return fakes.fresh_machine(monkeypatch, tmp_path)


@pytest.fixture
def fake_mps(monkeypatch):
    fakes.apple_gpu(monkeypatch)


@pytest.fixture
def fake_t4(monkeypatch):
    """A Colab T4: CUDA 7.5, which torch says supports bf16 (by emulation)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d=None: (15 * GiB, 16 * GiB))


def fake_speeds(table: dict):
    """A `measure(device, batch)` reading tokens/s from {device: {batch: tok/s}}; counts calls."""
    calls = []

    def measure(dev, batch, seconds=0.0):
        calls.append((dev, batch))
        return {"tokens_per_s": table[dev][batch], "step_seconds": 0.01, "dtype": "float32"}

    measure.calls = calls
    return measure


CPU = {8: 30_000.0}
SLOW_MPS = {8: 8_000.0, 16: 15_000.0, 32: 20_000.0}  # batch 32 no longer pays: the ladder stops
FAST_MPS = {8: 90_000.0, 16: 170_000.0, 32: 300_000.0, 64: 380_000.0}


# ---------------------------------------------------------------- device, batch, size


def test_auto_without_a_measurement_never_takes_mps(fake_mps):
    spec = RunSpec(train=TrainConfig(compile="off"))
    for unmeasured in (resolve(spec), resolve(spec, lambda t: None)):
        assert unmeasured.device.type == "cpu" and unmeasured.device_how == "default"
    measured = resolve(spec, lambda t: "mps")
    assert measured.device.type == "mps" and measured.device_how == "measured"
    assert measured.dtype == torch.float32 and measured.spec.model.head == "full"
    asked = resolve(RunSpec(train=TrainConfig(device="cpu", compile="off")), lambda t: "mps")
    assert asked.device.type == "cpu" and asked.device_how == "asked for"  # not measured


def test_mps_present_and_slower_trains_on_the_cpu(fresh_machine, fake_mps):
    measure = fake_speeds({"cpu": CPU, "mps": SLOW_MPS})
    found = machine.probe(progress=False, measure=measure)
    # the ladder stops once a bigger batch no longer pays for its fewer steps
    assert measure.calls[0] == ("cpu", 8) and ("mps", 64) not in measure.calls
    pick = machine.choose(found, budget_s=300)
    assert pick["device"] == "cpu" and pick["batch_size"] == 8
    assert pick["lr"] == pytest.approx(TrainConfig.lr)
    assert machine.device_for(TrainConfig(budget_s=300)) == "cpu"  # from the cache
    assert len(measure.calls) == len(found["rows"])  # measured once


def test_mps_present_and_faster_is_chosen_with_its_batch_and_lr(fresh_machine, fake_mps):
    found = machine.probe(progress=False, measure=fake_speeds({"cpu": CPU, "mps": FAST_MPS}))
    pick = machine.choose(found, budget_s=300)
    assert pick["device"] == "mps" and pick["batch_size"] == 32  # 64 gains 27% for 2x the batch
    assert pick["lr"] == pytest.approx(TrainConfig.lr * (32 / 8) ** LR_BATCH_EXPONENT)
    assert ("not yet measured" in pick["lr_rule"]) != LR_BATCH_EXPONENT_MEASURED
    # at a fixed batch: the fastest device at that batch
    assert machine.choose(found, batch_size=8)["device"] == "mps"
    assert machine.device_for(TrainConfig(batch_size=8)) == "mps"


def test_the_cpu_counts_its_measured_compile_gain(fresh_machine, fake_mps, monkeypatch):
    """MPS at 40k tok/s beats an eager CPU at 30k, not one that compiles (x COMPILE_SPEEDUP)."""
    from tinylm.machine import compiling

    found = machine.probe(progress=False, measure=fake_speeds({"cpu": CPU, "mps": {
        8: 40_000.0, 16: 41_000.0}}))
    monkeypatch.setattr(compiling, "compile_problem", lambda kind="cpu": None)  # a compiler
    assert machine.choose(found, budget_s=300, batch_size=8)["device"] == "cpu"
    assert machine.choose(found, budget_s=10, batch_size=8)["device"] == "mps"  # too short
    assert machine.choose(found, budget_s=300, batch_size=8, compile="off")["device"] == "mps"
    monkeypatch.setattr(compiling, "compile_problem", lambda kind="cpu": "no C++ compiler found")
    assert machine.choose(found, budget_s=300, batch_size=8)["device"] == "mps"


def test_measured_once_per_machine_and_again_when_it_changes(fresh_machine, fake_mps, monkeypatch):
    measure = fake_speeds({"cpu": CPU, "mps": SLOW_MPS})
    machine.probe(progress=False, measure=measure)
    n = len(measure.calls)
    assert machine.cache_path().is_file()
    monkeypatch.setattr(machine, "_memo", {})  # a new process reads the file
    again = machine.probe(progress=False, measure=measure)
    assert len(measure.calls) == n and "cached" in again["how"]
    monkeypatch.setattr(machine, "_memo", {})
    monkeypatch.setattr(machine, "__version__", "99.0")  # an upgrade measures again
    machine.probe(progress=False, measure=measure)
    assert len(measure.calls) == 2 * n


def test_not_cached_while_another_training_runs(fresh_machine, fake_mps, monkeypatch):
    monkeypatch.setattr(machine.busy, "others", lambda *a: [{"pid": 1}])
    found = machine.probe(progress=False, measure=fake_speeds({"cpu": CPU, "mps": SLOW_MPS}))
    assert "not cached" in found["how"] and not machine.cache_path().exists()


def test_a_failing_accelerator_ends_its_ladder(fresh_machine, fake_mps):
    def measure(dev, batch, seconds=0.0):
        if dev == "mps" and batch >= 16:
            raise RuntimeError("MPS backend out of memory\n(details)")
        return {"tokens_per_s": {"cpu": 30_000.0, "mps": 50_000.0}[dev], "step_seconds": 0.01,
                "dtype": "float32"}

    found = machine.probe(progress=False, measure=measure)
    errors = [r for r in found["rows"] if "error" in r]
    assert len(errors) == 1 and errors[0]["error"] == "RuntimeError: MPS backend out of memory"
    assert machine.choose(found, budget_s=10)["device"] == "mps"


def test_a_cpu_only_machine_measures_nothing(fresh_machine, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def never(*a, **k):
        raise AssertionError("nothing to compare: nothing should be measured")

    assert machine.probe(progress=False, measure=never)["rows"] == []
    assert machine.device_for(TrainConfig()) == "cpu"
    run = resolve(RunSpec(train=TrainConfig(compile="off")), machine.device_for)
    record = machine.record(run.spec.train, run.device, run.device_how)
    assert record["device"] == "cpu" and "only a CPU" in record["how"]
    asked = machine.record(TrainConfig(device="cpu"), torch.device("cpu"), "asked for")
    assert asked == {"asked": "cpu", "device": "cpu", "how": "asked for"}
    assert not machine.cache_path().exists()


def test_training_on_auto_records_the_choice(fresh_machine, fake_mps, monkeypatch, small_data,
                                             tiny_model_cfg, fast_cfg):
    """A fake Apple GPU, measured slower: the run trains on the CPU and says why in metrics."""
    import tinylm
    from tinylm.tuning import probe as machine

    speeds = {"cpu": CPU, "mps": SLOW_MPS}
    monkeypatch.setattr(machine, "measure_throughput", lambda cfg, batch, dev, **k: {
        "tokens_per_s": speeds[dev][batch], "step_seconds": 0.01, "dtype": "float32"})
    result = tinylm.train(small_data, tiny_model_cfg, fast_cfg(device="auto", steps=3,
                                                               budget_s=30), progress=False)
    choice = result.metrics["device_choice"]
    assert result.metrics["device"] == "cpu" and choice["asked"] == "auto"
    assert choice["device"] == "cpu" and choice["how"] == "measured"
    assert {r["device"] for r in choice["measurements"]} == {"cpu", "mps"}


def test_cuda_bf16_only_where_native(fake_t4, monkeypatch):
    cuda = torch.device("cuda")
    assert device.native_dtype(cuda) == torch.float32  # a T4 emulates bf16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (8, 0))
    assert device.native_dtype(cuda) == torch.bfloat16  # an A100
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True:
                        including_emulation)
    assert device.native_dtype(cuda) == torch.float32  # torch says: emulated only


def test_auto_on_a_t4_trains_cuda_in_fp32_with_the_full_head(fake_t4):
    run = resolve(RunSpec(train=TrainConfig(compile="off")))
    assert run.device.type == "cuda" and run.dtype == torch.float32
    assert run.spec.train.device == "cuda" and run.spec.train.dtype == "float32"
    assert run.spec.model.head == "full"  # the adaptive head is for CPUs computing in fp32


def test_a_device_this_machine_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for name in ("cuda", "cuda:1", "mps"):
        with pytest.raises(ValueError, match="available; use --device cpu"):
            device.torch_device(name)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        device.torch_device("tpu")
    assert device.torch_device("cpu") == torch.device("cpu")


def test_cuda_memory_comes_from_torch(fake_t4):
    assert memory.available_bytes(torch.device("cuda")) == 15 * GiB


# ---------------------------------------------------------------- memory and threads


VM = namedtuple("VM", "available total")


@pytest.fixture
def ram(monkeypatch):
    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: VM(12 * GiB, 16 * GiB))


def cgroup(tmp_path, files: dict) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    return tmp_path


def test_windows_without_proc_reads_memory_from_psutil(ram, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(memory.os, "sched_getaffinity", None, raising=False)  # not on Windows
    assert memory.usable_cpus(tmp_path) == (os.cpu_count() or 1)
    root = cgroup(tmp_path, {"memory.max": str(GiB), "cpu.max": "100000 100000"})
    assert memory.available_bytes(torch.device("cpu"), root) == 12 * GiB  # no cgroups there
    assert memory.cgroup_cpu_limit(root) is None


def test_cgroup_v2_memory_and_cpu_limit(ram, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    root = cgroup(tmp_path, {"memory.max": str(4 * GiB), "memory.current": str(3 * GiB),
                             "cpu.max": "150000 100000"})
    assert memory.available_bytes(torch.device("cpu"), root) == 1 * GiB
    assert memory.cgroup_cpu_limit(root) == 1.5
    monkeypatch.setattr(memory.os, "sched_getaffinity", lambda pid: set(range(64)),
                        raising=False)
    assert memory.usable_cpus(root) == 2  # 64 host cores, a quota of 1.5 CPUs


def test_cgroup_v1_limits_and_no_limit(ram, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    v1 = cgroup(tmp_path / "v1", {"memory/memory.limit_in_bytes": str(2 * GiB),
                                  "memory/memory.usage_in_bytes": str(GiB // 2),
                                  "cpu/cpu.cfs_quota_us": "200000",
                                  "cpu/cpu.cfs_period_us": "100000"})
    assert memory.available_bytes(torch.device("cpu"), v1) == GiB + GiB // 2
    assert memory.cgroup_cpu_limit(v1) == 2.0
    free = cgroup(tmp_path / "free", {"memory.max": "max", "cpu.max": "max 100000",
                                      "memory/memory.limit_in_bytes": "9223372036854771712",
                                      "cpu/cpu.cfs_quota_us": "-1"})
    assert memory.available_bytes(torch.device("cpu"), free) == 12 * GiB
    assert memory.cgroup_cpu_limit(free) is None
    assert memory.cgroup_cpu_limit(tmp_path / "missing") is None


def test_threads_follow_the_cpu_quota(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(device, "usable_cpus", lambda: 1)
        assert device.set_threads(None) == 1
        assert device.set_threads(2) == 2
        with pytest.raises(ValueError, match="positive integer"):
            device.set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_mps_memory_is_the_metal_working_set_and_ram(ram, fake_mps, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 10 * GiB)
    assert memory.available_bytes(torch.device("mps"), tmp_path) == 6 * GiB


# ---------------------------------------------------------------- the Hub


@pytest.fixture
def online(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy",
                 "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_hub_endpoint_from_hf_endpoint():
    """huggingface_hub reads HF_ENDPOINT when imported: so in a fresh process."""
    code = "from tinylm.core.hub import hub_address; print(*hub_address())"
    env = {**os.environ, "HF_ENDPOINT": "https://hf-mirror.example.org:8443/"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.stdout.split() == ["hf-mirror.example.org", "8443"], out.stderr


def test_hub_probe_dials_the_configured_endpoint(online, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://mirror.campus.example")
    dialed = []

    class Connection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(hub.socket, "create_connection",
                        lambda address, timeout: dialed.append(address) or Connection())
    assert hub.hub_reachable() is True and dialed == [("mirror.campus.example", 80)]


def test_hub_probe_is_skipped_behind_a_proxy(online, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.campus.example:3128")
    assert hub.hub_reachable() is None  # a direct connection would fail (conftest): not tried
    monkeypatch.setenv("NO_PROXY", "huggingface.co")
    assert hub.hub_reachable() is False  # bypassed: dialed directly, and refused here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False


def test_behind_a_proxy_datasets_fails_with_our_message(online, monkeypatch):
    import datasets

    monkeypatch.delenv("TINYLM_DATA_DIR")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.campus.example:3128")

    def refuse(*a, **k):
        raise ConnectionError("proxy said 502")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(DataError, match="proxy said 502.*TINYLM_DATA_DIR"):
        load_corpus("tinystories")
