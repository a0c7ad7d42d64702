"""Two trainings on one machine (`tinylm.machine.busy`): another running training is noticed,
reported or waited for; stale and reused entries are ignored; a training registers itself while
it runs; the CLI waits for the other one or goes on (`--if-busy`)."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from fast import SMALL, TINY_MODEL_FLAGS

import tinylm
from tinylm.machine import busy
from tinylm.runs.train import train


def cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tinylm", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture()
def other_training(tmp_path):
    """A real process registered as a tinylm training in the (test-private) cache."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = busy._started(proc.pid)
    folder = busy._folder(None)
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"pid": proc.pid, "process_started": started, "started": time.time(),
             "budget_s": 300, "what": "python -m tinylm train"}
    (folder / f"{proc.pid}.json").write_text(json.dumps(entry))
    yield proc
    proc.kill()
    proc.wait()
    (folder / f"{proc.pid}.json").unlink(missing_ok=True)


def test_another_training_is_noticed_and_waited_for(other_training):
    found = busy.others()
    assert [e["pid"] for e in found] == [other_training.pid]
    said = []
    busy.check("warn", say=said.append)
    assert len(said) == 1 and f"PID {other_training.pid}" in said[0]
    assert "300 s budget" in said[0] and "Going on anyway" in said[0]
    threading.Timer(1.0, other_training.kill).start()
    t0 = time.perf_counter()
    busy.check("wait", poll_s=0.1, say=said.append)
    assert time.perf_counter() - t0 >= 0.9 and "has finished" in said[-1]
    assert busy.others() == []  # its stale entry is gone


def test_stale_and_reused_entries_are_ignored(tmp_path):
    folder = busy._folder(None)
    folder.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / f"{dead.pid}.json").write_text(json.dumps({"pid": dead.pid,
                                                         "process_started": 1.0}))
    # a live PID whose process started at another time: the PID was reused
    (folder / "1.json").write_text(json.dumps({"pid": 1, "process_started": 12345.0}))
    (folder / "junk.json").write_text("{not json")
    assert busy.others() == []
    assert not (folder / f"{dead.pid}.json").exists()
    for f in folder.iterdir():
        f.unlink()


def test_own_training_registers_while_it_runs(small_data, tiny_model_cfg, fast_cfg):
    seen = []
    folder = busy._folder(None)
    train(small_data, tiny_model_cfg, fast_cfg(budget_s=1),
          callback=lambda r: r["event"] == "log" and seen.append([p.name for p in folder.glob("*")]),
          progress=False)
    assert seen and all(f"{os.getpid()}.json" in names for names in seen)
    assert not (folder / f"{os.getpid()}.json").exists()  # gone when it ended


def test_cli_waits_for_the_other_training_or_goes_on(other_training, tmp_path):
    r = cli("train", *SMALL, *TINY_MODEL_FLAGS, "--budget", 1, "--compile", "off", "--quiet",
            "--if-busy", "go", "--out", tmp_path / "a")
    assert r.returncode == 0 and "another tinylm training" not in r.stderr
    waiting = subprocess.Popen(  # the other training ends only once this one says it waits
        [sys.executable, "-m", "tinylm", "train", *map(str, SMALL), *map(str, TINY_MODEL_FLAGS),
         "--budget", "1", "--compile", "off", "--quiet", "--out", str(tmp_path / "b")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = ""
    while "Waiting for it to finish" not in said and waiting.poll() is None:
        said += waiting.stderr.readline()
    other_training.kill()
    out, rest = waiting.communicate(timeout=300)
    said += rest
    assert waiting.returncode == 0, said
    assert f"another tinylm training is running on this machine (PID {other_training.pid}" \
        in said and "Waiting for it to finish" in said and "has finished" in said
    assert tinylm.load(tmp_path / "b").metrics["steps"] > 0
