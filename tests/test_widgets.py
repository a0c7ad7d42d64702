"""The notebook panels' logic, driven from Python (the browser tests click the same widgets)."""

from __future__ import annotations

import csv
import dataclasses
import io
import time

import pytest
import torch

import tinylm
from tinylm import notebook as nb
from tinylm.notebook.panels import kernel, results, speed


@pytest.fixture(autouse=True)
def _small_and_fast(monkeypatch, small_data):
    """Panels train on the shared 512-token test data, with no speed measured yet."""
    monkeypatch.setattr(kernel, "prepare", lambda corpus, vocab: small_data)
    monkeypatch.setattr(kernel, "LATEST", {})
    monkeypatch.setattr(speed, "SPEEDS", speed.SpeedEstimator())


def small_panel(**kw):
    settings = {"width": 32, "layers": 2, "heads": 2, "context": 64, "vocab": 512, "batch_size": 8,
                "budget": 2, "sample_tokens": 20, "final_eval_tokens": 2048, "threads": 1,
                "calibrate_speed": False, **kw}
    return nb.training_panel(**settings)


def test_labels_follow_the_sliders():
    panel = small_panel()
    cfg = panel.model_config()
    assert f"{tinylm.GPT(cfg).num_params():,}" in panel.params_label.value
    before = panel.params_label.value
    panel.width.value = 64
    assert panel.params_label.value != before
    assert f"{tinylm.GPT(panel.model_config()).num_params():,}" in panel.params_label.value
    assert "memory" in panel.memory_label.value and "MB" in panel.memory_label.value
    assert "unknown" in panel.tokens_label.value  # nothing measured yet


def test_expected_tokens_scale_with_the_budget_and_model():
    panel = small_panel()
    panel.speeds.remember(panel.model_config(), 8, 10_000.0)
    panel.budget.value = 30
    assert "300k tokens" in panel.tokens_label.value and "measured" in panel.tokens_label.value
    panel.width.value = 128  # more FLOPs per token: fewer tokens, and only estimated
    label = panel.tokens_label.value
    assert "estimated" in label and "300k" not in label


def test_impossible_heads_are_flagged_at_the_control_and_block_training():
    panel = small_panel()
    panel.heads.value = 3  # 32 is not divisible by 3
    assert "not divisible" in panel.heads_warning.value
    assert panel.train_button.disabled
    panel.train_button.click()
    assert panel._thread is None
    panel.heads.value = 4
    assert panel.heads_warning.value == "" and not panel.train_button.disabled
    rotary = small_panel(positions="rotary")
    rotary.heads.value = 16  # head size 2 is fine, 32 / 8 = 4 too; 48 / 16 = 3 is odd
    rotary.width.value = 48
    assert "even head size" in rotary.heads_warning.value and rotary.train_button.disabled


def test_train_shows_curve_metrics_sample_and_a_results_row():
    panel = small_panel()
    empty_plot = panel.plot.value
    panel.train_button.click()
    assert panel.stop_button.disabled is False
    result = panel.wait(60)
    assert result is not None and result.status == "completed", panel.status.value
    assert panel.records and panel.plot.value != empty_plot
    assert "val_bpb" in panel.metrics_label.value
    assert "<b>Once upon a time</b>" in panel.sample_output.value
    assert panel.stop_button.disabled and not panel.train_button.disabled
    assert [r["run"] for r in panel.results] == [1]
    row = panel.results[0]
    assert row["width"] == 32 and row["params"] == result.metrics["params"]
    assert f"{result.metrics['params']:,}" in panel.params_label.value  # the label was exact
    assert row["status"] == "completed" and row["val_bpb"] > 0
    assert "<td>32</td>" in panel.results_table.value and panel.results_plot.value
    assert panel.csv_link.value.startswith("<a download=")
    # a second run adds a row; the CSV has both
    panel.width.value = 48
    panel.heads.value = 3
    panel.train_button.click()
    panel.wait(60)
    rows = list(csv.DictReader(io.StringIO(panel.to_csv())))
    assert [r["width"] for r in rows] == ["32", "48"]
    assert set(rows[0]) == set(results.RESULT_COLUMNS)


def test_stop_ends_early_and_keeps_a_usable_model():
    panel = small_panel(budget=60)
    panel.train_button.click()
    deadline = time.monotonic() + 30
    while len(panel.records) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    panel.stop_button.click()
    result = panel.wait(30)
    assert result is not None and result.status == "stopped"
    assert result.metrics["train_seconds"] < 30
    assert "stopped early" in panel.metrics_label.value
    assert panel.results[-1]["status"] == "stopped"
    text = tinylm.generate(result.model, panel.tokenizer, "Tom", max_new_tokens=10, seed=0)
    assert text.startswith("Tom") and len(text) > 3


def test_only_one_panel_trains_at_a_time():
    a, b = small_panel(budget=60), small_panel()
    a.train_button.click()
    try:
        b.train_button.click()
        assert b._thread is None and "another training panel" in b.status.value
    finally:
        a.stop()
        a.wait(30)


def test_errors_show_in_the_panel(monkeypatch):
    def broken(corpus, vocab):
        raise tinylm.DataError("no corpus here")

    monkeypatch.setattr(kernel, "prepare", broken)
    panel = small_panel()
    panel.train_button.click()
    assert panel.wait(30) is None
    assert "no corpus here" in panel.status.value and not panel.train_button.disabled


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="widht"):
        small_panel(widht=64)
    panel = small_panel(mlp="swiglu", lr=1e-3)
    assert panel.model_config().mlp == "swiglu" and panel.lr.value == pytest.approx(1e-3)


def test_sampling_panel_uses_the_newest_trained_model_and_the_seed():
    sampler = nb.sampling_panel()
    assert sampler.generate() == "" and "No model yet" in sampler.status.value
    panel = small_panel()
    panel.train_button.click()
    panel.wait(60)
    sampler.length.value = 30
    a = sampler.generate()
    assert a.startswith("Once upon a time") and "seed 0" in sampler.status.value
    assert "Once upon a time" in sampler.output.value
    assert sampler.generate() == a
    sampler.seed.value = 1
    assert sampler.generate() != a
    sampler.temperature.value, sampler.top_k.value, sampler.top_p.value = 0.0, 5, 0.5
    assert sampler.generate().startswith("Once upon a time")


def test_sampling_panel_from_a_model_or_a_checkpoint(tmp_path, small_data, tiny_model_cfg):
    model = tinylm.GPT(tiny_model_cfg)
    with pytest.raises(ValueError, match="tokenizer"):
        nb.sampling_panel(model=model)
    direct = nb.sampling_panel(model=model, tokenizer=small_data.tokenizer,
                                           max_new_tokens=10, prompt="Tom")
    text = direct.generate()
    assert text.startswith("Tom")
    tinylm.save(tmp_path / "ckpt", model, small_data.tokenizer, {"status": "completed"})
    loaded = nb.sampling_panel(checkpoint=tmp_path / "ckpt", max_new_tokens=10,
                                           prompt="Tom")
    assert loaded.generate() == text


def test_models_that_write_all_tokens_at_once_show_one_piece(small_data, tiny_model_cfg):
    from tinylm.models import build_model

    torch.manual_seed(0)
    cfg = dataclasses.replace(tiny_model_cfg, family="mdlm")
    model = build_model(cfg)
    pieces = list(tinylm.stream(model, small_data.tokenizer, "Hi", max_new_tokens=12, seed=3))
    assert len(pieces) == 1 and pieces[0]
    sampler = nb.sampling_panel(model=model, tokenizer=small_data.tokenizer,
                                            prompt="Hi", max_new_tokens=12, seed=3)
    assert sampler.generate() == "Hi" + pieces[0] == tinylm.generate(
        model, small_data.tokenizer, "Hi", max_new_tokens=12, seed=3)


def test_calibration_measures_once():
    speeds = speed.SpeedEstimator()
    cfg = tinylm.ModelConfig(vocab_size=513, context=32, width=32, layers=1, heads=2)
    speeds.measure(cfg, 4, seconds=0.1)
    tps, exact = speeds.expected(cfg, 4)
    assert tps > 0 and exact
    speeds.measure(cfg, 8, seconds=0.1)  # already measured: no second measurement
    assert len(speeds.measured) == 1


def test_panels_share_the_kernels_speed_measurements():
    a, b = small_panel(), small_panel()
    assert a.speeds is b.speeds is speed.SPEEDS
    a.speeds.remember(a.model_config(), 8, 10_000.0)
    b.budget.value = 30  # any change refreshes the labels
    assert "300k tokens" in b.tokens_label.value
