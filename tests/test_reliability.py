"""Failure modes a classroom will hit: random input, kills mid-save, races, resume, memory."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinylm
from tinylm.core.checkpoint import load
from tinylm.core.corpus import DataError, load_corpus
from tinylm.core.models import ModelConfig, build_model
from tinylm.core.schedule import TrainConfig, lr_at
from tinylm.core.spec import resolve_model
from tinylm.runs.train import train

ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=True),
                      st.text(max_size=8), st.sampled_from(["gelu", "rmsnorm", "rotary", "cosine",
                                                            "adamw", "muon", "auto", "cpu"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([f.name for f in ModelConfig.__dataclass_fields__.values()]),
                       ANY_VALUE, max_size=5))
def test_model_config_either_works_or_raises_value_error(fields):
    cfg = ModelConfig(**{"vocab_size": 300, "context": 8, "width": 8, "layers": 1, "heads": 2,
                         **fields})
    try:
        cfg.validate()
    except ValueError as e:  # the message names a setting that was given
        assert any(name in str(e) for name in (*fields, "head size")), str(e)
        return
    cfg = resolve_model(cfg)  # "auto" made concrete, as a model built on its own does
    if cfg.width * cfg.layers * cfg.context > 50_000:
        return  # valid but too big to build in a unit test
    model = build_model(cfg)
    assert model(torch.zeros(1, cfg.context, dtype=torch.long)).shape[-1] == cfg.vocab_size


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([f for f in TrainConfig.__dataclass_fields__]), ANY_VALUE,
                       max_size=5))
def test_train_config_either_validates_or_raises_value_error(fields):
    cfg = TrainConfig(**fields)
    try:
        cfg.validate()
    except ValueError as e:  # the defaults are valid, so the message names a setting given
        assert any(name in str(e) for name in fields), str(e)
        return
    for frac in (0.0, 0.01, 0.5, 0.99, 1.0):  # a valid config has a usable schedule
        lr = lr_at(cfg, frac)
        assert math.isfinite(lr) and 0 <= lr <= cfg.lr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".jsonl"]))
def test_random_bytes_load_or_raise_data_error(tmp_path, content, suffix):
    f = tmp_path / f"fuzz{suffix}"
    f.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            corpus = load_corpus(str(f))
        except DataError as e:
            assert "fuzz" in str(e)  # the message names the file
            return
    assert corpus.train and corpus.validation


def test_resume_matches_an_uninterrupted_run(small_data, tiny_model_cfg, tmp_path):
    cfg = TrainConfig(budget_s=120.0, steps=24, eval_every_frac=1.0, device="cpu", compile="off",
                      threads=1, final_eval_tokens=4096, lr=3e-3)
    whole = train(small_data, tiny_model_cfg, cfg, progress=False)
    calls = []

    def interrupt_after_12_steps():
        calls.append(1)
        if len(calls) == 13:
            raise KeyboardInterrupt
        return False

    out = tmp_path / "run"
    first = train(small_data, tiny_model_cfg, cfg, out_dir=out, stop=interrupt_after_12_steps,
                  progress=False)
    assert first.status == "interrupted" and first.metrics["steps"] == 12
    resumed = train(small_data, tiny_model_cfg, cfg, out_dir=out, resume=out, progress=False)
    assert resumed.metrics["steps"] == 24
    # optimizer, data order and schedule were restored: the same run, step for step
    assert resumed.metrics["val_loss"] == pytest.approx(whole.metrics["val_loss"], rel=1e-5)


def test_resume_with_other_optimizer_groups_names_the_problem(small_data, tiny_model_cfg,
                                                              tmp_path, monkeypatch):
    """A run saved by a tinylm whose optimizer had other parameter groups: a one-line error."""
    cfg = TrainConfig(budget_s=120.0, steps=8, device="cpu", compile="off", threads=1,
                      final_eval_tokens=2048)
    out = tmp_path / "run"
    first = train(small_data, tiny_model_cfg, cfg, out_dir=out, stop=lambda: True,
                  progress=False)
    assert first.status == "stopped" and load(out).resume_state() is not None
    module = sys.modules["tinylm.runs.train"]  # the module (tinylm.train is also the function)
    monkeypatch.setattr(module, "make_optimizer",
                        lambda model, _: torch.optim.AdamW(model.parameters()))
    with pytest.raises(ValueError, match="optimizer state does not fit this version"):
        train(small_data, tiny_model_cfg, cfg, out_dir=out, resume=out, progress=False)


KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import tinylm
    from tinylm.core import checkpoint
    from tinylm.core import folder
    data = tinylm.prepare(tinylm.DataConfig(corpus="tinystories", vocab_size=512,
                          max_train_bytes=1_000_000, max_val_bytes=60_000), progress=False)
    cfg = tinylm.ModelConfig(vocab_size=data.vocab_size, context=64, width=32, layers=2, heads=2)
    model = tinylm.GPT(cfg)
    checkpoint.save(sys.argv[1], model, data.tokenizer, {"status": "first"})
    print("SAVED", flush=True)
    real = os.replace
    def slow_replace(src, dst):
        if str(dst).endswith("checkpoint.json"):
            print("IN_SAVE", flush=True)
            time.sleep(60)
        real(src, dst)
    folder.os.replace = slow_replace
    with __import__("torch").no_grad():
        for p in model.parameters():
            p.add_(1.0)
    checkpoint.save(sys.argv[1], model, data.tokenizer, {"status": "second"})
""")


def test_killed_mid_checkpoint_leaves_the_previous_one_loadable(tmp_path):
    out = tmp_path / "ck"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "SAVED"
        first = load(out)
        assert proc.stdout.readline().strip() == "IN_SAVE"  # new weights written, not committed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    after = load(out)
    assert after.info["status"] == "first"
    for p, q in zip(first.model.parameters(), after.model.parameters()):
        assert torch.equal(p, q)


RACE_SCRIPT = textwrap.dedent("""
    import json, sys, tinylm
    d = tinylm.prepare(tinylm.DataConfig(corpus="tinystories", vocab_size=300,
                       max_train_bytes=400_000, max_val_bytes=30_000), progress=False)
    print(json.dumps({"n": int(d.train.size), "sum": int(d.train.sum()), "dir": str(d.cache_dir)}))
""")


def test_two_processes_building_one_cache(tmp_path):
    env = {**os.environ, "TINYLM_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", RACE_SCRIPT], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and outs[0]["n"] > 0
    # and a third reader sees a complete cache
    again = subprocess.run([sys.executable, "-c", RACE_SCRIPT], capture_output=True, text=True,
                           env=env, timeout=300)
    assert json.loads(again.stdout) == outs[0]


def test_configuration_too_big_for_memory_is_refused_before_allocating(small_data):
    huge = ModelConfig(vocab_size=small_data.vocab_size, context=1024, width=16384, layers=64,
                       heads=128)
    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB .* only [\d.]+ GiB is available"):
        train(small_data, huge, TrainConfig(budget_s=5, device="cpu"), progress=False)


def test_metrics_record_versions_and_hardware(small_data, tiny_model_cfg):
    m = train(small_data, tiny_model_cfg, TrainConfig(budget_s=1, device="cpu", compile="off",
                                                       threads=1, final_eval_tokens=2048),
              progress=False).metrics
    assert m["tinylm_version"] == tinylm.__version__ and m["torch_version"] == torch.__version__
    assert m["device"] == "cpu" and m["threads"] == 1 and m["dtype"] in ("float32", "bfloat16")
    assert math.isfinite(m["val_bpb"])
