"""Checkpoints under hostile conditions: a full disk or a read-only folder during a save, and
someone else's checkpoint folder (names and links that lead outside it, missing hashes, fuzzed
indexes). Each failure is one line that names the problem, nothing that was trained is lost,
and nothing outside the folder is ever read. (Two trainings on one machine: test_busy.py.)"""

import builtins
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from fast import SMALL, TINY_MODEL_FLAGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinylm.core import checkpoint
from tinylm.core.checkpoint import CheckpointError, SaveError, load
from tinylm.core.models import ModelConfig, build_model
from tinylm.runs.train import train

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


def cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tinylm", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture()
def tiny(small_data):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=small_data.vocab_size, context=16, width=16, layers=1, heads=2)
    return build_model(cfg)


# ---------------------------------------------------------------- a full disk


def test_full_disk_keeps_the_model_and_the_previous_checkpoint(small_data, tiny_model_cfg,
                                                               tiny, fast_cfg, tmp_path,
                                                               monkeypatch, capsys):
    out = tmp_path / "run"
    checkpoint.save(out, tiny, small_data.tokenizer, {"status": "earlier"})
    before = load(out)

    def disk_full(model, filename, *a, **k):
        Path(filename).write_bytes(b"half a file")  # what a full disk leaves behind
        raise NO_SPACE

    monkeypatch.setattr(checkpoint, "save_model", disk_full)
    result = train(small_data, tiny_model_cfg, fast_cfg(budget_s=3, checkpoint_every_frac=0.3),
                   out_dir=out, progress=False)
    assert result.status == "completed" and result.metrics["steps"] > 10  # training went on
    assert result.error == f"could not save the checkpoint to {out}: No space left on device"
    assert result.out_dir is None and "NOT SAVED" in repr(result)
    notices = [line for line in capsys.readouterr().err.splitlines() if "could not save" in line]
    assert len(notices) == 1 and notices[0].endswith("training goes on")  # said once
    assert not [f.name for f in out.iterdir() if f.name.endswith(".tmp")]
    assert sorted(f.name for f in out.glob("weights-*")) == [before.info["weights"]]
    again = load(out)  # the earlier checkpoint is untouched
    assert again.info["status"] == "earlier"
    assert all(torch.equal(p, q) for p, q in zip(before.model.parameters(),
                                                   again.model.parameters()))
    monkeypatch.undo()
    saved = result.save(tmp_path / "elsewhere")  # the way out the error message names
    assert load(saved).metrics["val_bpb"] == result.metrics["val_bpb"] and not result.error


@pytest.mark.parametrize("make_error", [lambda p: NO_SPACE,
                                        lambda p: PermissionError(errno.EACCES,
                                                                  "Permission denied", str(p))])
def test_failed_save_is_one_save_error_naming_folder_and_cause(small_data, tiny, tmp_path,
                                                               monkeypatch, make_error):
    def fail(model, filename, *a, **k):
        raise make_error(filename)

    monkeypatch.setattr(checkpoint, "save_model", fail)
    with pytest.raises(SaveError) as e:
        checkpoint.save(tmp_path / "ck", tiny, small_data.tokenizer, {})
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "ck") in message
    assert "No space left on device" in message or "Permission denied" in message
    assert not list((tmp_path / "ck").iterdir())  # no half-written file


def test_a_folder_that_cannot_exist_is_refused_in_one_line(tmp_path):
    (tmp_path / "file").write_text("in the way")
    r = cli("train", *SMALL, *TINY_MODEL_FLAGS, "--budget", 1, "--compile", "off",
            "--out", tmp_path / "file" / "run", "--quiet")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write to {tmp_path}/file/run")


CLI_DISK_FULL = textwrap.dedent("""
    import errno, sys
    from tinylm.core import checkpoint
    from tinylm.cli import main as cli
    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    checkpoint.save_model = disk_full
    sys.exit(cli.main(sys.argv[1:]))
""")


def test_cli_says_where_it_could_not_write_and_exits_non_zero(tmp_path):
    out = tmp_path / "run"
    args = ["train", *SMALL, *TINY_MODEL_FLAGS, "--budget", 2, "--compile", "off", "--out", out,
            "--quiet"]
    r = subprocess.run([sys.executable, "-c", CLI_DISK_FULL, *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert r.stdout.startswith("completed: val_bpb ")  # the score and the story were shown
    assert "saved to" not in r.stdout.splitlines()[0]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: could not save the checkpoint to {out}: No space left")


# ---------------------------------------------------------------- someone else's checkpoint


@pytest.fixture()
def folder(small_data, tiny, tmp_path):
    return checkpoint.save(tmp_path / "shared" / "ck", tiny, small_data.tokenizer,
                           {"status": "running"}, state={"elapsed_s": 1.0})


def _edit(folder: Path, **changes) -> None:
    index = json.loads((folder / "checkpoint.json").read_text())
    index.update(changes)
    (folder / "checkpoint.json").write_text(json.dumps(index))


@pytest.mark.parametrize("name", ["../outside.safetensors", "/etc/passwd", "sub/weights-1.safetensors",
                                  "weights-1.safetensors/../../x", "notes.txt"])
def test_names_that_lead_out_of_the_folder_are_refused(folder, name):
    shutil.copy(folder / "weights-1.safetensors", folder.parent / "outside.safetensors")
    _edit(folder, weights=name)
    with pytest.raises(CheckpointError, match="which is not a weights file name") as e:
        load(folder)
    assert "\n" not in str(e.value)


def test_a_link_to_a_file_outside_is_refused(folder):
    shutil.move(folder / "weights-1.safetensors", folder.parent / "real.safetensors")
    (folder / "weights-1.safetensors").symlink_to(folder.parent / "real.safetensors")
    with pytest.raises(CheckpointError, match="is a link to a file outside the checkpoint folder"):
        load(folder)


def test_a_checkpoint_without_hashes_loads_only_when_asked(folder):
    _edit(folder, weights_sha256=None, tokenizer_sha256=None)
    with pytest.raises(CheckpointError, match=r"records no sha256 .* verify=False"):
        load(folder)
    ckpt = load(folder, verify=False)
    assert ckpt.verified is False and ckpt.resume_state() == {"elapsed_s": 1.0}
    r = cli("sample", folder, "--prompt", "Once", "--max-new-tokens", 5)
    assert r.returncode == 2 and "--unverified" in r.stderr
    r = cli("sample", folder, "--prompt", "Once", "--max-new-tokens", 5, "--unverified")
    assert r.returncode == 0 and r.stdout.startswith("Once")


NAMES = st.one_of(
    st.sampled_from(["../outside.safetensors", "/etc/passwd", "weights-1.safetensors",
                     "weights-2.safetensors", "state-1.pt", "state-2.pt", "link.safetensors",
                     "sub/weights-1.safetensors", "..", "", "tokenizer.json", "checkpoint.json",
                     str(Path("/tmp") / "weights-1.safetensors")]),
    st.text(max_size=30))
JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats()
                       | st.text(max_size=10),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=8)
CONFIGS = st.fixed_dictionaries({}, optional={"width": st.integers(1, 4096),
                                              "vocab_size": st.integers(200, 70000),
                                              "family": st.sampled_from(["gpt", "lstm", "mdlm"]),
                                              "layers": st.integers(0, 64), "x": st.none()})
KEYS = ["weights", "state", "weights_sha256", "tokenizer_sha256", "state_sha256", "model_config",
        "format", "format_version", "serial"]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(KEYS), st.one_of(NAMES, JSONISH), max_size=4),
       config=CONFIGS, link=st.sampled_from([None, "weights-2.safetensors", "state-2.pt",
                                             "tokenizer.json", "metrics.json"]),
       verify=st.booleans())
def test_fuzzed_checkpoint_folders_never_read_outside_or_raise_otherwise(
        folder, monkeypatch, changes, config, link, verify):
    base = folder.parent / "fuzz"
    shutil.rmtree(base, ignore_errors=True)
    ck = base / "ck"
    shutil.copytree(folder, ck)
    shutil.copy(folder / "weights-1.safetensors", base / "outside.safetensors")
    if link:
        (ck / link).unlink(missing_ok=True)
        (ck / link).symlink_to(base / "outside.safetensors")
    index = json.loads((ck / "checkpoint.json").read_text())
    if config:
        index["model_config"] = {**index["model_config"], **config}
    index.update(changes)
    (ck / "checkpoint.json").write_text(json.dumps(index))

    opened = []
    real_open, real_load_model, real_torch_load = builtins.open, checkpoint.load_model, torch.load
    real_from_file = checkpoint.Tokenizer.from_file

    def record(path):
        if isinstance(path, (str, os.PathLike)):
            opened.append(Path(path))
        return path

    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: real_open(record(f), *a, **k))
    monkeypatch.setattr(io, "open", lambda f, *a, **k: real_open(record(f), *a, **k))
    monkeypatch.setattr(checkpoint, "load_model", lambda m, f, *a, **k:
                        real_load_model(m, record(f), *a, **k))
    monkeypatch.setattr(checkpoint.torch, "load", lambda f, *a, **k:
                        real_torch_load(record(f), *a, **k))

    class Recording:
        @staticmethod
        def from_file(f):
            return real_from_file(record(f))

    monkeypatch.setattr(checkpoint, "Tokenizer", Recording)
    try:
        loaded = load(ck, verify=verify)
        loaded.resume_state()
    except CheckpointError as e:
        assert "\n" not in str(e)
    finally:
        monkeypatch.undo()
    inside = ck.resolve()
    for path in opened:
        assert path.resolve().parent == inside, f"read {path} outside the folder"
