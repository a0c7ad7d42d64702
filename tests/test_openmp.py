"""How OpenMP's threads wait: a short spin on a quiet Linux machine, sleeping on a busy one or
where libgomp's spin count means nothing, the user's own setting kept, and recorded."""

import pytest

from tinylm.machine import openmp


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

    from tinylm.runs.folders import environment

    monkeypatch.setattr(openmp, "chosen", "spin 10000")
    assert environment(torch.device("cpu"), torch.float32, 2)["omp_wait"] == "spin 10000"


def test_others_busy_reads_the_one_minute_load_average(monkeypatch):
    monkeypatch.setattr(openmp.os, "getloadavg", lambda: (0.8, 2.0, 2.0))  # 0.8 of a core
    assert openmp.others_busy()
    monkeypatch.setattr(openmp.os, "getloadavg", lambda: (0.4, 2.0, 2.0))  # 0.4: the last minute
    assert not openmp.others_busy()


def test_no_load_average_counts_as_quiet(monkeypatch):
    """Windows has no os.getloadavg; elsewhere the system may refuse to report one."""
    def unreadable():
        raise OSError("load average unobtainable")

    monkeypatch.setattr(openmp.os, "getloadavg", unreadable)
    assert openmp.others_busy() is False
    monkeypatch.delattr(openmp.os, "getloadavg", raising=False)
    assert openmp.others_busy() is False
