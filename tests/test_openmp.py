"""How OpenMP's threads wait: a short spin on a quiet Linux machine, sleeping on a busy one or
where libgomp's spin count means nothing, the user's own setting kept, and recorded."""

import pytest

from tinylm import openmp


@pytest.fixture(autouse=True)
def keep_this_process_choice(monkeypatch):
    monkeypatch.setattr(openmp, "chosen", openmp.chosen)  # restored after each test


def choose(environ, platform="linux", busy=False, torch_loaded=False):
    return openmp.choose_wait(environ, platform, lambda: busy, torch_loaded)


def test_quiet_linux_spins_briefly():
    env = {}
    assert choose(env) == "spin 10000" and env == {"GOMP_SPINCOUNT": "10000"}


@pytest.mark.parametrize("platform, busy", [("linux", True), ("darwin", False), ("win32", False)])
def test_busy_machines_and_other_openmps_sleep(platform, busy):
    env = {}
    assert choose(env, platform, busy) == "passive" and env == {"OMP_WAIT_POLICY": "PASSIVE"}


@pytest.mark.parametrize("mine", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}])
def test_a_policy_the_user_set_is_kept(mine):
    env = dict(mine)
    assert choose(env, busy=True) == "as set" and env == mine


def test_too_late_once_torch_is_loaded_and_says_so():
    env = {}
    assert "torch loaded first" in choose(env, torch_loaded=True) and env == {}


def test_the_choice_is_recorded_with_every_run(monkeypatch):
    import torch

    from tinylm.runs import environment

    monkeypatch.setattr(openmp, "chosen", "spin 10000")
    assert environment(torch.device("cpu"), torch.float32, 2)["omp_wait"] == "spin 10000"


def test_others_busy_reads_the_whole_machine(monkeypatch):
    monkeypatch.setattr(openmp.psutil, "cpu_count", lambda: 4)
    monkeypatch.setattr(openmp.psutil, "cpu_percent", lambda interval: 20.0)  # 0.8 of a core
    assert openmp.others_busy()
    monkeypatch.setattr(openmp.psutil, "cpu_percent", lambda interval: 10.0)  # 0.4 of a core
    assert not openmp.others_busy()
