import dataclasses
import json
import math

import pytest
import torch
from fast import FAST_TRAIN

import tinylm
from tinylm.core.checkpoint import load
from tinylm.core.models.ngram import FIT_RESERVE_S
from tinylm.core.schedule import TrainConfig, lr_at
from tinylm.core.spec import RunSpec, resolve
from tinylm.runs.folders import RunLock
from tinylm.runs.train import train

REQUIRED_METRICS = {"val_loss", "val_bpb", "val_ppl", "tokens_seen", "tokens_per_s", "params",
                    "params_non_embedding", "train_seconds", "budget_s", "history",
                    "torch_version", "tinylm_version", "device", "dtype", "threads"}


def quick(**kw):
    return TrainConfig(**{**FAST_TRAIN, "budget_s": 4.0, **kw})


def test_loss_falls_and_metrics_are_complete(small_data, tiny_model_cfg, tmp_path):
    result = train(small_data, tiny_model_cfg, quick(budget_s=6.0), out_dir=tmp_path / "run",
                   progress=False)
    m = result.metrics
    assert result.status == "completed"
    assert m["val_loss"] < math.log(small_data.vocab_size) - 1.5  # far below a uniform guess
    assert m["history"][0]["train_loss"] > m["history"][-1]["train_loss"] + 1.0
    assert REQUIRED_METRICS <= set(m)
    assert m["val_bpb"] == pytest.approx(m["val_loss"] * m["val_tokens"] / m["val_bytes"]
                                         / math.log(2))
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["val_bpb"] == m["val_bpb"]
    assert any("val_loss" in r for r in m["history"])  # periodic validation happened


def test_budget_is_respected(small_data, tiny_model_cfg):
    plain = dataclasses.replace(tiny_model_cfg, ngram_order=0)  # the loop has the whole budget
    m = train(small_data, plain, quick(budget_s=3.0), progress=False).metrics
    # never overshoots by more than one step (a step may include an evaluation and a save)
    assert m["train_seconds"] >= 3.0
    assert m["train_seconds"] - 3.0 <= max(m["max_step_seconds"], m["first_step_seconds"]) + 0.05
    # with the n-gram memory, counting and fitting it are spent from the same budget
    m = train(small_data, tiny_model_cfg, quick(budget_s=3.0), progress=False).metrics
    spent = m["train_seconds"] + m["ngram_seconds"]
    assert 3.0 - FIT_RESERVE_S <= spent <= 3.0 + FIT_RESERVE_S + m["max_step_seconds"]


def test_schedule_warms_up_and_anneals_to_zero():
    cfg = TrainConfig(lr=1.0, warmup_frac=0.1)
    assert lr_at(cfg, 0.0) == 0.0
    assert lr_at(cfg, 0.05) == pytest.approx(0.5)
    assert lr_at(cfg, 0.1) == pytest.approx(1.0)
    assert lr_at(cfg, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(TrainConfig(lr=1.0, warmup_frac=0.0, decay="linear"), 0.5) == pytest.approx(0.5)


def test_same_seed_same_loss_curve(small_data, tiny_model_cfg):
    cfg = quick(budget_s=60.0, steps=12, eval_every_frac=1.0)
    a = train(small_data, tiny_model_cfg, cfg, progress=False)
    b = train(small_data, tiny_model_cfg, cfg, progress=False)
    assert a.metrics["steps"] == b.metrics["steps"] == 12
    assert a.metrics["val_loss"] == b.metrics["val_loss"]
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_checkpoint_round_trip_gives_identical_logits(small_data, tiny_model_cfg, tmp_path):
    result = train(small_data, tiny_model_cfg, quick(budget_s=2.0), out_dir=tmp_path / "ck",
                   progress=False)
    ckpt = load(tmp_path / "ck")
    x = torch.from_numpy(small_data.val[:64].astype("int64"))[None]
    assert torch.equal(ckpt.model(x), result.model.eval()(x))
    assert ckpt.tokenizer.to_str() == small_data.tokenizer.to_str()
    assert ckpt.info["status"] == "completed" and ckpt.resume_state() is None


def test_stop_ends_early_and_keeps_the_model(small_data, tiny_model_cfg):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 5

    result = train(small_data, tiny_model_cfg, quick(budget_s=60.0), stop=stop, progress=False)
    assert result.status == "stopped" and result.metrics["steps"] == 5
    assert result.metrics["train_seconds"] < 60
    assert math.isfinite(result.metrics["val_bpb"])


def test_interrupt_saves_and_resume_finishes_the_budget(small_data, tiny_model_cfg, tmp_path):
    out = tmp_path / "run"
    seen = []

    def interrupt_midway(record):
        seen.append(record)
        if record["event"] == "log" and record["elapsed_s"] > 1.5:
            raise KeyboardInterrupt

    first = train(small_data, tiny_model_cfg, quick(budget_s=4.0), out_dir=out,
                  callback=interrupt_midway, progress=False)
    assert first.status == "interrupted"
    ckpt = load(out)
    assert ckpt.info["status"] == "interrupted"
    state = ckpt.resume_state()
    assert state["step"] == first.metrics["steps"] and 1.5 < state["elapsed_s"] < 4.0

    second = train(small_data, tiny_model_cfg, quick(budget_s=4.0), out_dir=out, resume=out,
                   progress=False)
    assert second.status == "completed"
    assert second.metrics["steps"] > first.metrics["steps"]
    assert second.metrics["train_seconds"] + second.metrics["ngram_seconds"] >= 4.0 - FIT_RESERVE_S
    assert second.metrics["val_loss"] < first.metrics["val_loss"]
    assert load(out).resume_state() is None
    with pytest.raises(ValueError, match="nothing to resume"):
        train(small_data, tiny_model_cfg, quick(), out_dir=out, resume=out, progress=False)


def test_divergence_stops_with_advice_and_finite_weights(small_data, tiny_model_cfg):
    result = train(small_data, tiny_model_cfg, quick(budget_s=20.0, lr=1e4, grad_clip=0.0,
                                                     warmup_frac=0.0), progress=False)
    assert result.status == "diverged"
    assert "learning rate is probably too high" in result.message
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_two_runs_cannot_share_a_folder(small_data, tiny_model_cfg, tmp_path):
    lock = RunLock(tmp_path / "busy")
    lock.acquire()
    try:
        with pytest.raises(ValueError, match="being written by another training run"):
            train(small_data, tiny_model_cfg, quick(), out_dir=tmp_path / "busy", progress=False)
    finally:
        lock.release()


@pytest.mark.parametrize("field,value", [
    ("budget_s", 0), ("budget_s", -5), ("budget_s", float("nan")), ("batch_size", 0),
    ("lr", 0.0), ("lr", -1e-3), ("decay", "step"), ("optimizer", "sgd"), ("compile", "yes"),
    ("warmdown_frac", 0.0), ("beta2", 1.0), ("muon_lr_scale", 0.0), ("device", "tpu"),
])
def test_bad_train_config_is_refused_before_work(small_data, tiny_model_cfg, field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        train(small_data, tiny_model_cfg, quick(**{field: value}), progress=False)


def test_context_longer_than_validation_text(small_data):
    tiny_val = tinylm.TokenData(small_data.tokenizer, small_data.train, small_data.val[:100],
                                small_data.token_bytes, small_data.meta)
    cfg = tinylm.ModelConfig(vocab_size=small_data.vocab_size, context=256, width=32, layers=1,
                             heads=2)
    with pytest.raises(ValueError, match="validation text has 100 tokens"):
        train(tiny_val, cfg, quick(), progress=False)


def test_muon_trains(small_data, tiny_model_cfg):
    result = train(small_data, tiny_model_cfg, quick(budget_s=3.0, optimizer="muon"),
                   progress=False)
    assert result.metrics["val_loss"] < math.log(small_data.vocab_size) - 1.0


def test_quick_mode_scales_budgets_data_and_final_evaluation(monkeypatch):
    from tinylm.core import quick as quick_mode

    monkeypatch.delenv("TINYLM_QUICK", raising=False)
    assert quick_mode.budget(60) == 60 and quick_mode.eval_tokens(262_144) == 262_144
    assert quick_mode.eval_tokens(None) is None
    monkeypatch.setenv("TINYLM_QUICK", "1")
    assert quick_mode.budget(60) == 3 and quick_mode.budget(10) == quick_mode.QUICK_MIN_S
    assert quick_mode.eval_tokens(262_144) == quick_mode.eval_tokens(None) == 16_384
    assert quick_mode.eval_tokens(4096) == 4096
    assert quick_mode.data_cap() == 2_000_000


@pytest.fixture()
def fresh_compile_state():
    from tinylm.machine import compiling

    compiling.forget_failure()
    yield compiling
    compiling.forget_failure()


class _FailsInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("C++ compile error: g++ exited with 1\nlong compiler output...")


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_compile_failure_anywhere_in_the_first_step_falls_back_to_eager(
        small_data, tiny_model_cfg, fresh_compile_state, monkeypatch, capsys, where):
    def broken_compile(fn, **kwargs):
        def compiled(x, y):
            if where == "forward":
                raise RuntimeError("InductorError: no working C++ compiler\ntraceback...")
            return _FailsInBackward.apply(fn(x, y))
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    result = train(small_data, tiny_model_cfg, quick(budget_s=2.0, compile="on"), progress=False)
    assert result.status == "completed" and result.metrics["compiled"] is False
    assert result.metrics["steps"] > 5  # it went on training, eager
    notice = [line for line in capsys.readouterr().err.splitlines() if "torch.compile" in line]
    assert len(notice) == 1 and "training without torch.compile" in notice[0]
    assert "--compile off" in notice[0] and "traceback" not in notice[0]
    # remembered for the process: "auto" does not try again, and says why
    later = resolve(RunSpec(train=quick(budget_s=600, compile="auto")))
    assert later.compile is False and later.spec.train.compile == "off"
    assert "failed earlier in this process" in later.compile_notice


def test_missing_compiler_is_found_before_compiling(small_data, tiny_model_cfg,
                                                    fresh_compile_state, monkeypatch, capsys):
    from torch._inductor import cpp_builder

    def no_compiler():
        raise RuntimeError("no C++ compiler")  # what inductor raises when none is found

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled"))
    assert fresh_compile_state.compile_problem() == "no C++ compiler found"
    auto = resolve(RunSpec(train=quick(budget_s=600, compile="auto")))
    assert auto.compile is False and auto.compile_notice.startswith("no C++ compiler found")
    result = train(small_data, tiny_model_cfg, quick(budget_s=1.0, compile="on"), progress=False)
    assert result.metrics["compiled"] is False
    err = capsys.readouterr().err
    assert "no C++ compiler found; training without torch.compile" in err
    assert "g++" in err or "Visual Studio" in err or "xcode-select" in err


def test_missing_python_headers_are_named(fresh_compile_state, monkeypatch, tmp_path):
    import sysconfig

    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    assert "Python headers are missing" in fresh_compile_state.compile_problem()
    assert fresh_compile_state.compile_problem("mps") == "torch.compile is unreliable on Apple MPS"


def test_window_and_batch_schedules_and_the_teacher_train(small_data, tiny_model_cfg):
    from tinylm.core.schedule import batch_shape, teacher_weight

    cfg = quick(budget_s=3.0, short_windows_frac=0.3, batch_ramp_frac=0.5, ngram_teacher_frac=0.4)
    assert batch_shape(cfg, 0.1, 64) == (16, 16)  # a quarter as long, four times as many, halved
    assert batch_shape(cfg, 0.4, 64) == (4, 64) and batch_shape(cfg, 0.6, 64) == (8, 64)
    assert teacher_weight(cfg, 0.0) == 1.0 and teacher_weight(cfg, 0.2) == pytest.approx(0.5)
    assert teacher_weight(cfg, 0.4) == 0.0
    result = train(small_data, tiny_model_cfg, cfg, progress=False)
    assert result.status == "completed" and math.isfinite(result.metrics["val_bpb"])
    with pytest.raises(ValueError, match="ngram_teacher_frac must be in"):
        quick(ngram_teacher_frac=1.0).validate()
