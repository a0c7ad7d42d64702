"""The size chapter's helpers: best widths of stored sweeps, the width rule in words, where a
run stood halfway, calibrate's pick on a stored ladder, and the sentences that compare picks."""

from __future__ import annotations

import json

import pytest

from tinylm import measured
from tinylm import notebook as nb
from tinylm.core.models import ModelConfig
from tinylm.core.spec import resolve_model
from tinylm.lab import sweeps
from tinylm.lab.results import Study
from tinylm.tuning import calibrate


def _run(recipe: str, bpb: float, params: int, tps: float, width=None, threads=2) -> dict:
    metrics = {"val_bpb": bpb, "val_loss": bpb * 2.8, "val_ppl": 20.0, "tokens_per_s": tps,
               "tokens_seen": tps * 300, "params": params, "params_non_embedding": params // 2,
               "threads": threads, "history": []}
    if width is not None:
        metrics["width"] = width
    spec = dict(kv.split("=") for kv in recipe.partition(":")[2].split(",") if kv)
    return {"recipe": recipe, "spec": {k: int(v) for k, v in spec.items()}, "metrics": metrics}


def _sweep(name: str = "sizes2-300s", budget: float = 300) -> Study:
    """Three widths; the summary (as a second invocation wrote it) lacks width 64."""
    runs = [_run("default:width=64", 0.98, 1_100_000, 39_000.0),
            _run("default:width=96", 0.95, 1_800_000, 31_000.0),
            _run("default", 0.94, 2_500_000, 25_000.0, width=128),
            _run("default:width=96", 0.96, 1_800_000, 33_000.0),
            _run("default", 0.93, 2_500_000, 24_000.0, width=128)]
    rows = [{"recipe": "default:width=96", "params": 1_800_000, "val_bpb": 0.955,
             "tokens_per_s": 32_000.0, "tokens_seen": 9.6e6, "n": 2},
            {"recipe": "default", "params": 2_500_000, "val_bpb": 0.935,
             "tokens_per_s": 24_500.0, "tokens_seen": 7.35e6, "n": 2}]
    for r in runs:
        r["budget_s"] = budget
    return Study(name, {"baseline": "default:width=96", "rows": rows}, runs)


def test_every_run_gets_a_row_and_the_best_width_is_read_from_the_runs():
    study = nb.with_every_run(_sweep())
    widths = nb.rows_by_width(study)
    assert sorted(widths) == [64, 96, 128]
    assert widths[64]["n"] == 1 and widths[64]["val_bpb"] == 0.98
    assert widths[64]["tps_ratio"] == pytest.approx(39_000 / 32_000)
    assert [r["params"] for r in study.rows] == sorted(r["params"] for r in study.rows)
    best = nb.optima([study])[0]
    assert (best["width"], best["threads"], best["interior"]) == (128, 2, False)
    assert best["tokens_per_param"] == 7.35e6 / 2_500_000
    assert nb.shape_of(study, "default:width=64") == (64, 2, 2)
    complete = nb.with_every_run(study)
    assert complete is study  # nothing left to add


def test_a_width_nobody_recorded_is_what_auto_gives_at_the_budget():
    runs = [{"recipe": "default", "spec": {}, "metrics": {"val_bpb": 1.0}}]
    for budget in (60, 300):
        study = Study(f"x-{budget}s", {"rows": []}, [{**runs[0], "budget_s": budget}])
        assert nb.width_of(study, "default") == resolve_model(ModelConfig(), budget).width


def test_the_width_rule_is_printed_from_measured_and_matches_resolve():
    text = nb.width_rule()
    assert f"{measured.NARROW_WIDTH} for budgets under {measured.WIDE_FROM_S:g} s" in text
    assert f"{measured.WIDE_WIDTH} from {measured.WIDE_FROM_S:g} s on" in text
    below, at = measured.WIDE_FROM_S - 1, measured.WIDE_FROM_S
    assert resolve_model(ModelConfig(), below).width == measured.NARROW_WIDTH
    assert resolve_model(ModelConfig(), at).width == measured.WIDE_WIDTH


def test_where_a_run_stood_at_a_moment():
    history = [{"elapsed_s": 1.0, "train_loss": 3.0}, {"elapsed_s": 2.0, "val_bpb": 1.5},
               {"elapsed_s": 4.0, "val_bpb": 1.2}]
    assert nb.at_time(history, 3.0)["val_bpb"] == 1.5
    assert nb.at_time(history, 10.0)["val_bpb"] == 1.2
    assert nb.at_time(history, 1.5) is None


def test_a_stored_ladder_picks_wider_for_a_longer_budget():
    ladder = [{"width": w, "params": p, "expected_tokens": t, "tokens_per_param": t / p}
              for w, p, t in ((64, 0.6e6, 14e6), (96, 1.0e6, 12.9e6), (128, 1.44e6, 10.7e6),
                              (160, 1.93e6, 9.4e6), (192, 2.46e6, 8.3e6))]
    at_300 = calibrate.ladder_pick(ladder, 300, 300)
    assert at_300["width"] == calibrate.closest_to_rule(ladder, 300, lambda r: r["tokens_per_param"])["width"]
    at_600 = calibrate.ladder_pick(ladder, 300, 600)
    assert at_600["width"] > at_300["width"]
    scale = calibrate.usable_seconds(600, True) / calibrate.usable_seconds(300, True)
    assert at_600["expected_tokens"] == pytest.approx(
        next(r for r in ladder if r["width"] == at_600["width"])["expected_tokens"] * scale)
    assert calibrate.usable_seconds(300, False) == 300
    assert calibrate.usable_seconds(300, True) == 300 - measured.COMPILE_COLD_S
    with pytest.raises(ValueError, match="ladder is empty"):
        calibrate.ladder_pick([], 300, 600)


def test_the_calibration_note_names_the_width_and_the_budget_of_its_count():
    minute, five = _sweep("sizes3-60s", 60), _sweep("sizes2-300s", 300)
    stored = nb.optimum(minute)
    text = " ".join(nb.calibration({"tokens_per_s": stored["tokens_per_s"]}, stored,
                                   [minute, five]).split())
    assert "1.00 times" in text and "(300 s) is sizes2-300s" in text
    assert "width 128 (2,500,000 parameters at 300 s)" in text


def test_picks_are_compared_by_width_with_each_count_at_its_budget():
    yours = {"width": 96, "params": 1_008_109, "budget_s": 60.0}
    same = {"budget_s": 300.0, "choice": {"width": 96}, "params": 1_794_541}
    text = " ".join(nb.picks_text(same, yours).split())
    assert text.startswith("Both ways point to width 96 for 300 s here.")
    assert "1,794,541" in text and "1,008,109" in text
    assert f"value tables from {measured.VALUE_EMBEDS_FROM_S} s" in text
    exact = " ".join(nb.picks_text({**same, "params": 1_008_109}, yours).split())
    assert exact == "Both ways point to width 96 for 300 s here."
    other = " ".join(nb.picks_text({**same, "choice": {"width": 128}}, yours).split())
    assert other.startswith("The two ways differ here: calibrate picked width 128")


def test_optimum_against_budget_and_the_checks_of_a_named_file(tmp_path, monkeypatch):
    fig = nb.optimum_vs_budget([_sweep("sizes3-60s", 60), _sweep("sizes2-300s", 300)])
    assert fig._repr_png_().startswith(b"\x89PNG")
    labels = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "width 128" in labels and "sizes3-60s" in labels
    assert isinstance(nb.optimum_vs_budget([_sweep(), _sweep("threads1-sizes2-300s")]), nb.HTML)

    monkeypatch.setenv("TINYLM_RESULTS_DIR", str(tmp_path))
    (tmp_path / "s").mkdir()
    shape = {"width": 128, "layers": 2, "heads": 2}
    check = {"study": "s", "budget_s": 300.0, "threads": None, "pick": shape, "best": shape,
             "pick_val_bpb": 0.9, "best_val_bpb": 0.9, "gap": 0.0, "within_criterion": True}
    (tmp_path / "s" / "calibrate-recheck.json").write_text(json.dumps(check))
    assert nb.calibrate_checks("s") == []
    rows = nb.calibrate_checks("s", file="calibrate-recheck.json")
    assert rows[0]["pick"] == "128x2x2" and rows[0]["within_criterion"] is True


def test_sweep_columns_are_fields_of_optima():
    row = sweeps.optima([_sweep()])[0]
    assert set(sweeps.SWEEP_COLUMNS) <= set(row)
