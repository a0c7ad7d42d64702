"""Golden run, as llama2.c's test_all.py pins a trained model's output: a seeded, step-driven
training run on a slice of the shared TinyStories (eager, fp32, one CPU thread, 40 steps) must
give the per-step training losses, final validation score and greedy sample stored in
tests/golden/run.json, through the Python API (`tinylm.prepare`, `tinylm.train`,
`tinylm.generate`) and through the command line (`python -m tinylm train`, then
`python -m tinylm sample`). A refactor that changes what a user gets (tokenizer, data order,
initialization, optimizer, schedule, the checkpoint's round trip) fails here even when every
behavioural test still passes. Every setting is named, so moving a default changes nothing
here. If a change of the numbers is intended, regenerate both golden files (this one and the
untrained models' outputs.json of test_golden.py) and commit them:

    python tests/regenerate_golden.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TINYLM_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
CORPUS = SHARED_DATA / "tinystories"
GOLDEN_RUN = ROOT / "tests" / "golden" / "run.json"

# the shared folder by its path, so no environment variable decides where the text comes from;
# a 400 kB slice at vocabulary 512: the tokenizer trains in a fraction of a second
DATA = dict(corpus=str(CORPUS), vocab_size=512, max_train_bytes=400_000, max_val_bytes=40_000)
# the default recipe's kind of model (smear gate, rotary positions, the adaptive head a CPU
# in fp32 gets, the n-gram memory), small; vocab_size comes from the data
MODEL = dict(family="gpt", context=64, width=48, layers=2, heads=2, mlp="gelu", mlp_ratio=4.0,
             norm="layernorm", positions="rotary", tie_embeddings=False, head="adaptive",
             head_shortlist=128, head_tail_width=16, smear=True, value_embeds=False,
             doc_mask=False, qk_norm=False, dropout=0.0, logit_softcap=0.0, zero_init_proj=False,
             ngram_order=4)
# `steps` drives the schedule; the budget only caps the run, at several times its length.
# eval_every_frac=1 and checkpoint_every_frac=1: no periodic validation or checkpoint (both
# go by the clock). AdamW at a gentle learning rate, not Muon: orthogonalizing the gradient
# turns rounding noise in its small singular directions into whole updates, so a Muon run's
# losses moved by 1e-4 to 1e-2 within 40 steps (and its greedy sample changed) when only the
# order of float sums changed; this run's moved by at most 1.5e-6 (see REL, ABS below).
TRAIN = dict(budget_s=10.0, steps=40, batch_size=16, lr=1e-3, warmup_frac=0.03, decay="wsd",
             final_lr_frac=0.0, warmdown_frac=0.5, optimizer="adamw", muon_lr_scale=5.0,
             weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0, eval_every_frac=1.0,
             eval_tokens=4096, final_eval_tokens=8192, device="cpu", dtype="float32",
             compile="off", threads=1, seed=1337, checkpoint_every_frac=1.0)
PROMPT = "Once upon a time"
NEW_TOKENS = 50

# Run to run on one machine the numbers are bit-identical (eager, fp32, one thread, seeded).
# What may move them without a change of meaning is float reassociation: another CPU's kernels
# or another torch version summing in another order. Changing only that order (two threads;
# AVX2, SSE or unvectorized kernels on an AVX-512 CPU) moved the losses by at most 1.5e-6 and
# val_bpb by at most 4e-7; 1e-4 leaves a wide margin over that and is still far below what a
# real change does (another seed, data order or learning rate moves the losses by 1e-2 or more).
REL, ABS = 1e-4, 1e-4


def settings() -> dict:
    """The run's settings as run.json stores them (the corpus by name, not by path)."""
    return {"data": {**DATA, "corpus": CORPUS.name}, "model": MODEL, "train": TRAIN,
            "prompt": PROMPT, "new_tokens": NEW_TOKENS}


def flags(values: dict) -> list[str]:
    """`{"max_train_bytes": 10, "smear": True}` -> `["--max-train-bytes", "10", "--smear"]`."""
    out = []
    for key, value in values.items():
        flag = "--" + {"vocab_size": "vocab", "budget_s": "budget"}.get(key, key.replace("_", "-"))
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        else:
            out += [flag, str(value)]
    return out


def prepare(cache_dir: Path):
    import tinylm

    return tinylm.prepare(tinylm.DataConfig(**DATA, cache_dir=str(cache_dir)), progress=False)


def api_run(data, threads: int = TRAIN["threads"]) -> dict:
    """Train through the Python API: the per-step training losses, final score, greedy sample.

    The history logs on the clock, every budget_s / 200 seconds; pausing that long before each
    step (in `stop`, which the loop asks once per step) makes every step a record of its own,
    whatever the machine's speed."""
    import tinylm

    def paced() -> bool:
        time.sleep(TRAIN["budget_s"] / 200)
        return False

    result = tinylm.train(data, tinylm.ModelConfig(vocab_size=data.vocab_size, **MODEL),
                          tinylm.TrainConfig(**{**TRAIN, "threads": threads}), stop=paced,
                          progress=False, if_busy="go")
    assert result.status == "completed", result.message
    assert result.metrics["steps"] == TRAIN["steps"], "the budget, not the steps, ended the run"
    assert [r["step"] for r in result.history] == list(range(1, TRAIN["steps"] + 1))
    text = tinylm.generate(result.model, data.tokenizer, PROMPT, max_new_tokens=NEW_TOKENS,
                           temperature=0)
    return {"losses": [r["train_loss"] for r in result.history],
            "val_loss": result.metrics["val_loss"], "val_bpb": result.metrics["val_bpb"],
            "tokens_seen": result.metrics["tokens_seen"], "greedy": text}


def cli(*args: str, env: dict) -> str:
    proc = subprocess.run([sys.executable, "-m", "tinylm", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"tinylm {args[0]} failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
    return proc.stdout


def cli_run(cache_dir: Path, out: Path) -> dict:
    """Train with `python -m tinylm train`, sample greedily with `python -m tinylm sample`:
    the run's metrics.json (with its clock-timed history) and the sample."""
    env = {**os.environ, "TINYLM_CACHE_DIR": str(cache_dir)}  # the tokens prepared already
    cli("train", *flags(DATA), *flags(MODEL), *flags(TRAIN), "--out", str(out), "--quiet",
        "--if-busy", "go", "--prompt", PROMPT, env=env)
    metrics = json.loads((out / "metrics.json").read_text())
    text = cli("sample", str(out), "--device", "cpu", "--prompt", PROMPT, "--temperature", "0",
               "--max-new-tokens", str(NEW_TOKENS), env=env)
    return {"metrics": metrics, "greedy": text.removesuffix("\n")}  # print()'s newline


def write(path: Path = GOLDEN_RUN) -> dict:
    """Run the golden run through the API (tokens prepared in a fresh temporary cache) and
    write what it gave to `path`."""
    with tempfile.TemporaryDirectory() as cache_dir:
        data = prepare(Path(cache_dir))
        result = {"settings": settings(), "vocab_size": data.vocab_size,
                  "train_tokens": int(len(data.train)), **api_run(data)}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


@pytest.fixture(scope="module")
def expected() -> dict:
    if not CORPUS.is_dir():
        pytest.skip(f"the golden run trains on the shared TinyStories at {CORPUS}, which is "
                    "missing (set TINYLM_DATA_DIR to the folder that holds tinystories/)")
    return json.loads(GOLDEN_RUN.read_text())


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("golden-run-cache")


@pytest.fixture(scope="module")
def data(expected, cache_dir):
    return prepare(cache_dir)


def test_the_golden_file_was_made_with_these_settings(expected):
    assert expected["settings"] == json.loads(json.dumps(settings()))


def test_the_tokenizer_and_tokens_are_the_golden_runs(data, expected):
    assert data.vocab_size == expected["vocab_size"]
    assert len(data.train) == expected["train_tokens"]


def test_the_api_run_matches_the_golden_file(data, expected):
    got = api_run(data)
    assert got["losses"] == pytest.approx(expected["losses"], rel=REL, abs=ABS)
    for key in ("val_loss", "val_bpb"):
        assert got[key] == pytest.approx(expected[key], rel=REL, abs=ABS), key
    assert got["tokens_seen"] == expected["tokens_seen"]
    assert got["greedy"] == expected["greedy"]


def test_the_command_line_run_matches_the_golden_file(data, expected, cache_dir, tmp_path):
    got = cli_run(cache_dir, tmp_path / "run")
    m = got["metrics"]
    assert (m["status"], m["steps"], m["tokens_seen"]) == ("completed", TRAIN["steps"],
                                                           expected["tokens_seen"])
    for key in ("val_loss", "val_bpb"):
        assert m[key] == pytest.approx(expected[key], rel=REL, abs=ABS), key
    # its history logs on the clock: each record holds the mean loss of the steps since the one
    # before, whichever steps those were, so the golden per-step losses give it
    last = 0
    for record in m["history"]:
        window = expected["losses"][last:record["step"]]
        assert record["train_loss"] == pytest.approx(statistics.fmean(window), rel=REL,
                                                     abs=ABS), record
        last = record["step"]
    assert got["greedy"] == expected["greedy"]
