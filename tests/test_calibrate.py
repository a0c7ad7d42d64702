import json

import fakes
import pytest

from tinylm.core.models import ModelConfig
from tinylm.lab.recipes import parse_spec, run_spec
from tinylm.tuning.calibrate import LADDER, calibrate
from tinylm.tuning.speed import measure_throughput


def test_throughput_probe_counts_real_steps():
    r = measure_throughput(ModelConfig(vocab_size=300, context=32, width=16, layers=1, heads=1),
                           batch_size=2, seconds=0.2, device="cpu")
    assert r["steps"] >= 2 and r["tokens_per_s"] > 0 and r["params"] > 0


def test_bigger_budget_picks_a_bigger_model():
    small = calibrate(5, seconds_per_size=0.1, vocab_size=513, progress=False)
    big = calibrate(100_000, seconds_per_size=0.1, vocab_size=513, progress=False)
    shapes = [tuple(c) for c in LADDER]
    pick = [shapes.index((r["choice"]["width"], r["choice"]["layers"], r["choice"]["heads"]))
            for r in (small, big)]
    assert pick[0] < pick[1]
    assert all(row["expected_tokens"] > 0 for row in big["ladder"])


def test_recipe_specs():
    name, overrides = parse_spec("gpt2:lr=0.001,width=64,tie_embeddings=false")
    assert name == "gpt2" and overrides["lr"] == 0.001 and overrides["width"] == 64
    assert overrides["tie_embeddings"] is False and overrides["dtype"] == "float32"
    spec = run_spec(overrides, budget_s=60)
    assert spec.model.width == 64 and spec.train.budget_s == 60 and spec.train.compile == "off"
    assert spec.model.vocab_size == spec.data.vocab_size  # the model reads the data's tokens
    assert run_spec(overrides, vocab_size=1024).model.vocab_size == 1024
    with pytest.raises(ValueError, match="unknown setting.*no_such_setting"):
        run_spec(overrides, no_such_setting=1)


def test_lstm_recipe_builds_an_lstm():
    from tinylm.core.models import build_model

    name, overrides = parse_spec("lstm:width=32")
    spec = run_spec(overrides, budget_s=60, vocab_size=300)
    net = build_model(spec.model)
    assert type(net).__name__ == "LSTMLM" and net.rnn.num_layers == 1 and net.rnn.hidden_size == 32
    assert spec.train.optimizer == "muon"


def test_stored_settings_keep_their_meaning_when_defaults_move(monkeypatch):
    """A run stores its complete settings; the spec rebuilt from them reproduces the run under
    whatever the defaults are later (here: the model's default depth changes)."""
    from tinylm.lab import recipes

    def run_settings(spec):
        return run_spec(parse_spec(spec)[1], budget_s=60, seed=7).settings()

    stored = run_settings("default:lr=0.002")
    assert stored["lr"] == 0.002 and stored["seed"] == 7 and stored["layers"] == ModelConfig.layers
    as_stored = dict(stored)
    assert recipes.label("default", stored) == "default:lr=0.002"  # run arguments left out
    assert stored == as_stored  # labelling reads the stored settings, never changes them
    gpt2 = run_settings("gpt2:width=64")
    assert recipes.label("gpt2", gpt2) == "gpt2:width=64"
    assert recipes.overrides(gpt2)["optimizer"] == "adamw"  # against the plain defaults

    old_layers = ModelConfig.layers
    monkeypatch.setattr(ModelConfig.__dataclass_fields__["layers"], "default", old_layers + 1)
    assert recipes.defaults()["layers"] == old_layers + 1
    spec = recipes.label("default", stored)
    assert spec == f"default:layers={old_layers},lr=0.002"
    assert run_settings(spec) == stored
    assert recipes.label("gpt2", gpt2) == "gpt2:width=64"  # the gpt2 recipe sets its depth


def test_runs_stored_before_a_setting_existed_keep_their_value_of_it(tmp_path):
    """Runs stored before the adaptive head existed had the full head, whatever the default:
    reading a study back fills in the settings added since (`schema.ADDED`)."""
    from tinylm.core.schema import SCHEMA_VERSION
    from tinylm.lab import recipes
    from tinylm.lab.results import read_runs

    old = {k: v for k, v in recipes.defaults().items() if not k.startswith("head")}
    head = recipes.defaults()["head"]
    today = {**old, "head": head}
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps(run) for run in (
        {"recipe": "default", "settings": old},  # schema 1: stored with no version
        {"recipe": "default", "settings": today, "schema_version": SCHEMA_VERSION})))
    before, after = (run["settings"] for run in read_runs(tmp_path))
    assert before["head"] == "full" and after["head"] == head
    assert recipes.label("default", before) == ("default" if head == "full" else
                                                "default:head=full")
    assert recipes.label("default", after) == "default"


def fake_throughput(speeds: dict, calls: list):
    """A measure_throughput reading tokens/s from {device: {batch: tok/s at the default size}},
    slower for bigger models; records (device, batch, width) of every call."""
    from tinylm.core.models import param_count
    from tinylm.core.spec import resolve_model

    def measure(cfg, batch_size=8, device="auto", **kw):
        cfg = resolve_model(cfg)  # the probe's default model says width="auto"
        calls.append((device, batch_size, cfg.width))
        return {"tokens_per_s": speeds[device][batch_size] * 96 / cfg.width, "step_seconds": 0.01,
                "steps": 2, "params": param_count(cfg), "device": device, "dtype": "float32"}

    return measure


@pytest.fixture
def apple_laptop(monkeypatch, tmp_path):
    """A fake Mac whose GPU beats its (compiled) CPU from batch 32 on; a fresh machine cache."""
    from tinylm.tuning import calibrate as module
    from tinylm.tuning import probe as machine

    fakes.fresh_machine(monkeypatch, tmp_path)
    fakes.apple_gpu(monkeypatch)
    calls: list = []
    speeds = {"cpu": {8: 30_000.0}, "mps": {8: 20_000.0, 16: 60_000.0, 32: 140_000.0,
                                            64: 160_000.0}}
    fake = fake_throughput(speeds, calls)
    monkeypatch.setattr(module, "measure_throughput", fake)  # the size ladder
    monkeypatch.setattr(machine, "measure_throughput", fake)  # the device probe
    return calls


def test_calibrate_picks_device_batch_and_size(apple_laptop):
    from tinylm.tuning.probe import lr_for_batch

    r = calibrate(300, seconds_per_size=0.1, progress=False)
    assert r["device"] == "mps" and r["batch_size"] == 32 and r["compiled"] is False
    assert r["lr"] == pytest.approx(lr_for_batch(32)) and r["machine"]["how"] == "measured"
    probe, sizes = apple_laptop[:-len(LADDER)], apple_laptop[-len(LADDER):]
    assert probe == [("cpu", 8, 96), ("mps", 8, 96), ("mps", 16, 96), ("mps", 32, 96),
                     ("mps", 64, 96)]  # 64 is 14% faster than 32 for twice the batch: stop
    assert sizes == [("mps", 32, w) for w, _, _ in LADDER]  # the size ladder ran there
    n = len(apple_laptop)
    again = calibrate(300, batch_size=8, seconds_per_size=0.1, progress=False)
    assert again["batch_size"] == 8 and again["device"] == "cpu"  # at batch 8 the CPU is faster
    assert len(apple_laptop) == n + len(LADDER)  # the machine was not measured again


def test_calibrate_on_a_named_device_measures_no_other(apple_laptop):
    r = calibrate(300, device="cpu", seconds_per_size=0.1, progress=False)
    assert r["device"] == "cpu" and r["batch_size"] == 8 and r["machine"]["how"] == "asked for"
    assert {c[0] for c in apple_laptop} == {"cpu"}
