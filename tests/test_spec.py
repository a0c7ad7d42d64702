"""`RunSpec` and `resolve`: every "auto" becomes a concrete value in one function, the same way
for the CLI, the recipes, the harness and the panels."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import tinylm
from tinylm.core import spec as spec_module
from tinylm.core.models import ModelConfig
from tinylm.core.schedule import TrainConfig
from tinylm.core.spec import RunSpec, resolve, resolve_model
from tinylm.measured import (
    COMPILE_MIN_BUDGET_S,
    NARROW_WIDTH,
    VALUE_EMBEDS_FROM_S,
    WIDE_FROM_S,
    WIDE_WIDTH,
)

PACKAGE = Path(tinylm.__file__).parent
AUTO_SETTINGS = {"device", "dtype", "compile", "head", "width", "value_embeds"}


def cpu(**train) -> TrainConfig:
    return TrainConfig(**{"device": "cpu", "compile": "off", **train})


def test_a_resolved_spec_has_no_auto_left():
    run = resolve(RunSpec(train=TrainConfig(device="cpu")))
    settings = run.spec.settings()
    assert not [k for k, v in settings.items() if v == "auto"], settings
    assert run.spec.train.device == "cpu" and run.device == torch.device("cpu")
    assert run.spec.train.dtype == str(run.dtype).removeprefix("torch.")
    assert run.spec.train.compile in ("on", "off") and run.compile == (run.spec.train.compile == "on")
    assert isinstance(run.threads, int) and run.threads == run.spec.train.threads >= 1


@pytest.mark.parametrize("budget", [30, WIDE_FROM_S - 1, WIDE_FROM_S, 300])
def test_width_and_value_tables_follow_the_budget(budget):
    model = resolve(RunSpec(train=cpu(budget_s=budget))).spec.model
    assert model.width == (WIDE_WIDTH if budget >= WIDE_FROM_S else NARROW_WIDTH)
    assert model.value_embeds is (budget >= VALUE_EMBEDS_FROM_S)


def test_asked_values_are_kept_and_other_families_keep_the_narrow_shape():
    asked = RunSpec(model=ModelConfig(width=64, value_embeds=True, head="full"),
                    train=cpu(budget_s=30, dtype="float32"))
    run = resolve(asked)
    assert (run.spec.model.width, run.spec.model.value_embeds, run.spec.model.head) == (64, True, "full")
    assert run.dtype == torch.float32
    lstm = resolve(RunSpec(model=ModelConfig(family="lstm"), train=cpu(budget_s=300))).spec.model
    assert lstm.width == NARROW_WIDTH and lstm.value_embeds is False


@pytest.mark.parametrize("fast_bf16, dtype, tied, head", [
    (False, "auto", False, "adaptive"),  # fp32 matmuls are the cost: the adaptive head
    (True, "auto", False, "full"),  # native bf16 makes the full head cheap
    (True, "float32", False, "adaptive"),
    (False, "auto", True, "full"),  # a tied table needs the full head
])
def test_the_head_follows_the_number_format(monkeypatch, fast_bf16, dtype, tied, head):
    monkeypatch.setattr("tinylm.machine.device.cpu_has_fast_bf16", lambda: fast_bf16)
    run = resolve(RunSpec(model=ModelConfig(tie_embeddings=tied), train=cpu(dtype=dtype)))
    assert run.spec.model.head == head


def test_compile_auto_needs_a_long_budget_and_a_compiler(monkeypatch):
    monkeypatch.setattr("tinylm.machine.compiling.compile_problem", lambda device_type: None)
    long, short = (RunSpec(train=TrainConfig(device="cpu", budget_s=b))
                   for b in (COMPILE_MIN_BUDGET_S, COMPILE_MIN_BUDGET_S - 1))
    assert resolve(long).compile and not resolve(short).compile
    assert not resolve(long, workers=2).compile  # several processes train eager
    monkeypatch.setattr("tinylm.machine.compiling.compile_problem",
                        lambda device_type: "no C++ compiler found")
    run = resolve(long)
    assert not run.compile and run.spec.train.compile == "off"
    assert "no C++ compiler found" in run.compile_notice and "--compile off" in run.compile_notice
    assert resolve(short).compile_notice is None  # eager by choice: nothing to fix
    asked = resolve(RunSpec(train=TrainConfig(device="cpu", budget_s=5, compile="on")))
    assert not asked.compile and "no C++ compiler" in asked.compile_notice


def test_device_auto_asks_the_measurement_and_threads_are_shared(monkeypatch):
    seen = []
    run = resolve(RunSpec(train=TrainConfig(compile="off")), lambda t: seen.append(t) or "cpu")
    assert run.device.type == "cpu" and seen and seen[0].device == "auto"
    monkeypatch.setattr(spec_module, "usable_cpus", lambda: 8)
    assert resolve(RunSpec(train=cpu()), workers=4).threads == 2
    assert resolve(RunSpec(train=cpu(threads=3)), workers=4).threads == 3  # asked: kept
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve(RunSpec(train=TrainConfig(device="cuda", compile="off")))


def test_from_settings_splits_flat_settings_and_names_the_bad_ones():
    spec = RunSpec.from_settings({"vocab_size": 512, "width": 64, "lr": 1e-3, "corpus": "simplewiki"})
    assert (spec.data.vocab_size, spec.model.vocab_size, spec.model.width) == (512, 512, 64)
    assert spec.train.lr == 1e-3 and spec.data.corpus == "simplewiki"
    assert RunSpec.from_settings(spec.settings()) == spec
    with pytest.raises(ValueError, match="unknown setting.*widht"):
        RunSpec.from_settings({"widht": 64})
    with pytest.raises(ValueError, match="ema_decay: measured and retired"):
        RunSpec.from_settings({"ema_decay": 0.99})


def test_a_model_built_outside_a_run_takes_the_one_minute_shape():
    assert resolve_model(ModelConfig()) == resolve(RunSpec(train=cpu(budget_s=60))).spec.model
    assert tinylm.GPT(ModelConfig(vocab_size=300, context=16)).cfg.width == NARROW_WIDTH


def _auto_decisions(path: Path) -> list[str]:
    """Where `path` compares a setting that may say "auto" with "auto" (deciding what it
    becomes), outside the checks that only validate a config."""
    found = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, ast.FunctionDef) or fn.name.lstrip("_").startswith("validate"):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Compare) and any(
                    isinstance(c, ast.Constant) and c.value == "auto" for c in node.comparators):
                left = node.left
                name = left.attr if isinstance(left, ast.Attribute) else getattr(left, "id", "")
                if name in AUTO_SETTINGS:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return sorted(set(found))


def test_auto_is_decided_in_one_function_only():
    decisions = [d for p in sorted(PACKAGE.rglob("*.py")) for d in _auto_decisions(p)]
    spec_file = str(Path(spec_module.__file__).relative_to(PACKAGE.parent))
    outside = [d for d in decisions if not d.startswith(spec_file + ":")]
    assert not outside, f'settings compared with "auto" outside resolve: {outside}'
    inside = ast.parse(Path(spec_module.__file__).read_text())
    resolve_def = next(n for n in inside.body if isinstance(n, ast.FunctionDef) and n.name == "resolve")
    lines = range(resolve_def.lineno, resolve_def.end_lineno + 1)
    assert decisions and all(int(d.rsplit(":", 1)[1]) in lines for d in decisions)
