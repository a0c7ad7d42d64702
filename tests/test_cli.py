import json
import os
import subprocess
import sys

import pytest
from fast import SMALL
from fast import TINY_MODEL_FLAGS as TINY_MODEL


def cli(*args, timeout=300):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "tinylm", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = cli("train", *SMALL, *TINY_MODEL, "--budget", 4, "--out", out, "--device", "cpu",
            "--prompt", "Once upon a time", "--quiet")
    assert r.returncode == 0, r.stderr
    return out, r


def test_train_prints_summary_and_a_story(trained_dir):
    out, r = trained_dir
    summary = r.stdout.splitlines()[0]
    assert summary.startswith("completed: val_bpb ") and "tok/s" in summary
    assert "M params (width 32)" in summary  # the width it trained, which "auto" may choose
    assert "Once upon a time" in r.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["budget_s"] == 4 and metrics["tokens_seen"] > 0


def test_eval_prints_json_matching_training(trained_dir):
    out, _ = trained_dir
    r = cli("eval", out, "--device", "cpu")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(result) == {"val_loss", "val_bpb", "val_ppl", "tokens", "bytes"}
    assert result["val_bpb"] == pytest.approx(metrics["val_bpb"], rel=1e-6)


def test_sample_is_seeded(trained_dir):
    out, _ = trained_dir
    a = cli("sample", out, "--prompt", "The cat", "--seed", 1, "--max-new-tokens", 20)
    b = cli("sample", out, "--prompt", "The cat", "--seed", 1, "--max-new-tokens", 20)
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("The cat")


@pytest.mark.parametrize("args,message", [
    (["train", "--budget", "-5"], "budget_s must be a positive"),
    (["train", "--budget", "0"], "budget_s must be a positive"),
    (["train", "--width", "100", "--heads", "3"], "width 100 is not divisible by heads 3"),
    (["train", "--corpus", "nosuchcorpus"], "unknown corpus 'nosuchcorpus'"),
    (["train", "--corpus", "/no/such/file.txt"], "no such file"),
    (["train", "--lr", "0"], "lr must be > 0"),
    (["train", "--mlp", "tanh"], "argument --mlp: invalid choice: 'tanh'"),
    (["train", "--widht", "64"], "unrecognized arguments: --widht 64"),
    (["train", "--width", "wide"], "argument --width: invalid integer or auto value: 'wide'"),
    (["train", "--heads", "3"], "width 128 (width auto from 200 s) is not divisible by heads 3"),
    (["train", "--vocab", "70000"], "vocab_size must be an integer from 256 to 65535"),
    (["train", "--batch-size", "0"], "batch_size must be a positive integer"),
    (["eval", "/no/such/run"], "no checkpoint folder at /no/such/run"),
    (["sample", "/no/such/run"], "no checkpoint folder"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr


def test_non_utf8_file_is_refused(tmp_path):
    f = tmp_path / "binary.txt"
    f.write_bytes(bytes(range(128, 256)) * 100)
    r = cli("train", "--corpus", f, "--budget", 1)
    assert r.returncode == 2 and "binary.txt" in r.stderr and "UTF-8" in r.stderr


def test_argparse_errors_exit_2():
    r = cli("train", "--budget", "soon")
    assert r.returncode == 2 and "invalid float value" in r.stderr


def test_every_flag_says_what_it_does_and_lists_its_choices():
    import dataclasses

    from tinylm import DataConfig, ModelConfig, TrainConfig
    from tinylm.cli.main import build_parser
    from tinylm.core.sample import SampleConfig

    for cls in (DataConfig, ModelConfig, TrainConfig, SampleConfig):
        for f in dataclasses.fields(cls):
            assert len(f.metadata.get("help", "")) > 10, f"{cls.__name__}.{f.name} has no help"
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    actions = {a.dest: a for a in train._actions}
    assert actions["mlp"].choices == ("gelu", "swiglu", "relu2")
    assert "MLP" in actions["mlp"].help and "default gelu" in actions["mlp"].help


def test_width_takes_a_number_or_auto():
    from tinylm.cli.main import build_parser
    from tinylm.measured import WIDE_FROM_S

    parser = build_parser()
    assert parser.parse_args(["train", "--width", "128"]).width == 128
    assert parser.parse_args(["train", "--width", "auto"]).width == "auto"
    assert parser.parse_args(["train"]).width is None  # unset: ModelConfig's auto applies
    train = parser._subparsers._group_actions[0].choices["train"]
    width = next(a for a in train._actions if a.dest == "width")
    assert width.metavar == "INT|auto"
    assert f"128 for budgets of {WIDE_FROM_S:g} s or more" in width.help


@pytest.mark.slow
def test_training_without_a_compiler_says_so_in_one_line(tmp_path):
    """`--compile auto` with a budget that would compile, on a machine with no C++ compiler (none
    on PATH, CXX pointing nowhere): the run trains eager and one line says why and what to
    install, instead of silently training at half speed."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PATH": str(tmp_path), "CXX": "no-such-c++"}
    r = subprocess.run([sys.executable, "-m", "tinylm", "train", *SMALL, *TINY_MODEL, "--budget",
                        "60", "--steps", "3", "--device", "cpu", "--quiet", "--out",
                        str(tmp_path / "run")], capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if "torch.compile" in line]
    assert len(lines) == 1 and "training without torch.compile" in lines[0], r.stderr
    assert "--compile off" in lines[0] and ("g++" in lines[0] or "Visual Studio" in lines[0])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["compiled"] is False
