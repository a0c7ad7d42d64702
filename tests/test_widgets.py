"""The notebook panels' logic, driven from Python (the browser tests click the same widgets)."""

from __future__ import annotations

import csv
import dataclasses
import io
import subprocess
import sys
import threading
import time
import types

import pytest
import torch

import tinylm
from tinylm import notebook as nb
from tinylm import version
from tinylm.lab import classroom
from tinylm.machine import busy
from tinylm.notebook.panels import colab, kernel, others, speed


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
    assert set(rows[0]) == set(classroom.CSV_COLUMNS)  # the class export format
    assert rows[0]["machine"] and float(rows[0]["tokens_per_s"]) > 0


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
    from tinylm.core.models import build_model

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


# ---------------------------------------------------------------- another training, Colab, the book


@pytest.fixture
def other_training():
    """A sleeping process registered as a tinylm training (busy.Registration, its PID)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    registration = busy.Registration(300)
    registration.path = registration.path.with_name(f"{proc.pid}.json")
    registration.entry.update(pid=proc.pid, process_started=busy._started(proc.pid),
                              what="python -m tinylm train")
    try:
        with registration:
            yield proc
    finally:
        proc.kill()
        proc.wait()


def test_another_training_is_said_before_training_and_train_anyway_trains(other_training,
                                                                          capsys):
    panel = small_panel()
    panel.train_button.click()
    assert panel._thread is None and not panel.running  # nothing started: the student decides
    assert f"PID {other_training.pid}" in panel.busy_notice.value
    assert "several times slower" in panel.busy_notice.value
    assert {w.layout.display for w in (panel.busy_notice, panel.wait_button,
                                       panel.anyway_button)} == {None}
    panel.anyway_button.click()
    assert panel.busy_notice.layout.display == panel.anyway_button.layout.display == "none"
    result = panel.wait(60)
    assert result is not None and result.status == "completed", panel.status.value
    assert "another tinylm training" not in capsys.readouterr().err  # if_busy="go": asked once


@pytest.fixture
def waiting_panel(other_training, monkeypatch):
    """A panel whose student pressed Train, then "Wait for it", now waiting for `other_training`."""
    monkeypatch.setattr(others, "POLL_S", 0.05)
    panel = small_panel()
    panel.train_button.click()
    panel.wait_button.click()
    deadline = time.monotonic() + 30
    while "Waiting for PID" not in panel.status.value and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f"Waiting for PID {other_training.pid}" in panel.status.value
    return panel


def test_wait_for_it_waits_in_the_background_until_the_other_ends(waiting_panel, other_training):
    panel = waiting_panel
    assert panel.running and panel.train_button.disabled and not panel.stop_button.disabled
    time.sleep(0.2)
    assert panel.records == [] and panel.result is None  # still waiting
    other_training.kill()
    other_training.wait()
    result = panel.wait(60)
    assert result is not None and result.status == "completed", panel.status.value


def test_stop_cancels_the_wait_and_trains_nothing(waiting_panel):
    panel = waiting_panel
    panel.stop_button.click()
    assert panel.wait(10) is None and not panel.running
    assert "Stopped waiting" in panel.status.value and panel.results == []
    assert not panel.train_button.disabled and panel.stop_button.disabled
    assert kernel.TRAINING.acquire(blocking=False)  # released for the next run
    kernel.TRAINING.release()


@pytest.fixture
def fake_colab(monkeypatch):
    """A `google.colab` module whose output.enable_custom_widget_manager records its calls."""
    calls = []
    module = types.ModuleType("google.colab")
    module.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    monkeypatch.setitem(sys.modules, "google.colab", module)
    monkeypatch.setattr(colab, "STATE", {"enabled": False})
    return calls


def test_on_colab_the_click_handler_trains_and_stop_is_the_interrupt(fake_colab, monkeypatch,
                                                                    small_data):
    threads = []
    monkeypatch.setattr(kernel, "prepare", lambda corpus, vocab: threads.append(
        threading.current_thread()) or small_data)
    panel = small_panel()
    small_panel()
    assert len(fake_colab) == 1  # enabled once per kernel
    assert "interrupt" in panel.colab_note.value and panel.colab_note.layout.display is None
    panel.train_button.click()  # returns when the run is over
    assert threads == [threading.main_thread()] and panel._thread is None
    assert panel.result is not None and panel.result.status == "completed", panel.status.value
    assert panel.stop_button.disabled and not panel.train_button.disabled
    # Stop on Colab is the kernel interrupt: a KeyboardInterrupt in the training loop
    panel.budget.value = 60
    on_record = panel._on_record

    def interrupt(record):  # once, the third log record in
        on_record(record)
        if record.get("event") == "log" and len(panel.records) == 3:
            raise KeyboardInterrupt

    panel._on_record = interrupt
    panel.train_button.click()
    assert panel.result.status == "interrupted" and panel.result.metrics["train_seconds"] < 30
    assert "interrupted" in panel.metrics_label.value and panel.results[-1]["status"] == "interrupted"
    text = tinylm.generate(panel.result.model, panel.tokenizer, "Tom", max_new_tokens=5, seed=0)
    assert text.startswith("Tom")


def test_on_colab_the_interrupt_also_ends_waiting(fake_colab, other_training, monkeypatch):
    class Interrupted(threading.Event):
        def wait(self, timeout=None):
            raise KeyboardInterrupt

    panel = small_panel()
    panel._stop = Interrupted()
    panel.train_button.click()
    panel.wait_button.click()
    assert "Stopped waiting" in panel.status.value and panel.result is None
    assert not panel.running and not panel.train_button.disabled


def test_panels_say_in_the_web_edition_only_that_they_need_a_kernel(monkeypatch):
    panel, sampler = small_panel(), nb.sampling_panel()
    for note in (panel.web_note, sampler.web_note):
        assert "needs a running Python kernel" in note.value and "jupyter lab chapters/" in note.value
        assert "style='display:none;" in note.value  # hidden unless the book's CSS rule applies
        assert "html[data-content_root] .tinylm-web-only" in note.value
        assert "launch button" not in note.value  # no public address, no button to point at
    assert panel.children[0] is panel.web_note and sampler.children[0] is sampler.web_note
    assert "Move the sliders" in panel.status.value and "tinylm-live-only" in panel.status.value
    assert "see the note at the top" in panel.status.value
    panel.speeds.remember(panel.model_config(), 8, 10_000.0)
    panel.budget.value = 3  # the labels say whose machine their numbers are from
    assert "on the machine that built this page" in panel.tokens_label.value
    assert "tinylm-web-only" in panel.memory_label.value
    monkeypatch.setattr(version, "PROJECT_URL", "https://github.com/someone/tinylm")
    note = small_panel().web_note.value
    assert "launch button" in note and "https://github.com/someone/tinylm#" in note


def test_the_metrics_line_says_where_the_run_trained_and_why():
    from tinylm.notebook.panels.format import metrics_text

    m = {"val_bpb": 1.2, "val_ppl": 30.0, "tokens_seen": 1000, "train_seconds": 2.0,
         "tokens_per_s": 500.0, "params": 10_000, "device": "cpu", "dtype": "bfloat16",
         "device_choice": {"how": "measured earlier, cached in /home/x/.cache/tinylm/tuning/probe.json"}}
    text = metrics_text(m, "completed", 2.0)
    assert "on cpu (bfloat16, measured earlier)" in text and ".cache" not in text
    m["device_choice"] = {"how": "measured"}
    assert "on cpu (bfloat16, measured fastest here)" in metrics_text(m, "completed", 2.0)


# ---------------------------------------------------------------- a class's panel


def _finished_row(panel, run: int = 1) -> dict:
    """A results row as a finished run leaves it (no training: the class tests need rows)."""
    from tinylm.notebook.panels import results

    m = {"train_seconds": 2.0, "tokens_seen": 4096, "params": 12_345, "val_bpb": 2.5,
         "val_ppl": 40.0}
    return results.result_row(run, panel.settings(), panel.model_config(), m, "completed")


def test_the_panel_trains_a_minute_by_default_as_the_chapters_do(monkeypatch):
    monkeypatch.delenv("TINYLM_QUICK", raising=False)
    panel = nb.training_panel(width=32, layers=2, heads=2, context=64, vocab=512,
                              calibrate_speed=False)
    assert panel.budget.value == 60 and panel.settings()["budget_s"] == 60.0
    assert not panel.budget.disabled and panel.class_note.layout.display == "none"
    assert panel.csv_name == "tinylm-runs.csv"


def test_a_class_setting_fixes_the_budget_and_corpus():
    panel = small_panel(budget=60, corpus="simplewiki", student="Ada", fixed=("budget", "corpus"))
    assert panel.budget.disabled and panel.corpus.disabled and not panel.width.disabled
    assert panel.settings()["budget_s"] == 60.0 and panel.settings()["corpus"] == "simplewiki"
    note = panel.class_note.value
    assert panel.class_note.layout.display is None
    assert "budget 60 s, corpus simplewiki, fixed for everyone" in note and "tinylm-runs-ada.csv" in note
    assert panel.fixed == ["budget", "corpus"]
    assert small_panel(fixed="budget").budget.disabled  # one name alone
    with pytest.raises(ValueError, match=r"fixed=\['budgit'\] names no control"):
        small_panel(fixed=("budgit",))
    with pytest.raises(ValueError, match="student must be a name"):
        small_panel(student=7)


def test_the_export_carries_the_students_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = small_panel(student=" Ada Lovelace ")
    panel.results = [_finished_row(panel, 1), _finished_row(panel, 2)]
    panel._show_results()
    assert "download='tinylm-runs-ada-lovelace.csv'" in panel.csv_link.value
    assert "tinylm-runs-ada-lovelace.csv" in panel.export_button.tooltip
    panel.export_button.click()
    saved = tmp_path / "tinylm-runs-ada-lovelace.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["student"] for r in rows] == ["Ada Lovelace"] * 2 and rows[0]["machine"]
    assert list(rows[0]) == list(classroom.CSV_COLUMNS)
    merged = classroom.merge([saved])
    assert merged.skipped == [] and merged.machines()[0]["students"] == "Ada Lovelace"
    anonymous = small_panel()
    anonymous.results = [_finished_row(anonymous)]
    assert anonymous.save_csv().name == "tinylm-runs.csv"  # no name: as before
    assert anonymous.save_csv(tmp_path / "mine.csv").name == "mine.csv"
