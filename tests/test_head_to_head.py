"""Two stored recipes side by side, in the direction a chapter asks about (chapter 6)."""

from __future__ import annotations

import math

import pytest

from tinylm.lab import head_to_head as h2h
from tinylm.lab.results import Study

NOISE = {300.0: {"sd": 0.01, "recipes": 3, "median_gap": 0.01, "max_gap": 0.02}}


def _study(values: dict[str, list[float]], name: str = "made-300s", spec=None) -> Study:
    runs = [{"recipe": recipe, "budget_s": 300, "spec": (spec or {}).get(recipe, {}),
             "metrics": {"val_bpb": v, "val_bytes": 4000, "val_tokens": 1000}}
            for recipe, vs in values.items() for v in vs]
    rows = [{"recipe": r, "val_bpb": sum(vs) / len(vs), "n": len(vs)} for r, vs in values.items()]
    return Study(name, {"baseline": "default", "rows": rows}, runs)


def test_the_default_against_its_baseline_reads_in_the_asked_direction():
    study = _study({"default": [0.884, 0.886], "gpt2": [1.058, 1.062]})
    row = h2h.head_to_head(study, "default", "gpt2", NOISE)
    assert row["val_bpb"] == pytest.approx(0.885) and row["against_bpb"] == pytest.approx(1.06)
    assert row["lower"] == pytest.approx(1 - 0.885 / 1.06) and row["verdict"] == "lower"
    assert row["margin"] == pytest.approx(2 * 0.01 * math.sqrt(1 / 2 + 1 / 2))
    text = h2h.head_to_head_text(row, "tinylm's default", "the GPT-2 recipe")
    assert text.startswith("tinylm's default reaches 0.8850 bits per byte against the GPT-2")
    assert "16.5% lower (medians of 2 runs each; beyond the ±0.0200" in " ".join(text.split())
    wide = _study({"default": [0.88, 0.89], "gpt2": [1.05, 1.07]})  # repeats wider than NOISE
    assert h2h.head_to_head(wide, "default", "gpt2", NOISE)["margin"] == pytest.approx(
        2 * math.sqrt(0.01**2 / 4 + 0.02**2 / 4))
    back = h2h.head_to_head(study, "gpt2", "default", NOISE)
    assert back["verdict"] == "higher" and "higher" in h2h.head_to_head_text(back, "a", "b")


def test_a_gap_inside_the_noise_is_a_tie_and_single_runs_are_unconfirmed():
    study = _study({"default": [0.970, 0.964], "lstm:beta2=0.95": [0.961]})
    row = h2h.head_to_head(study, "lstm", "default", NOISE)  # "lstm" finds lstm:beta2=0.95
    assert row["recipe"] == "lstm" and row["verdict"] == "tie, 1 run, unconfirmed"
    text = " ".join(h2h.head_to_head_text(row, "The LSTM", "the default").split())
    assert "(1 run against median of 2 runs; within the" in text and ": a tie; 1 run, unconfirmed" in text
    with pytest.raises(ValueError, match="no single recipe 'mdlm'"):
        h2h.head_to_head(study, "mdlm", "default", NOISE)


def test_best_of_each_family_and_bytes_per_token():
    spec = {"lstm-a": {"family": "lstm"}, "lstm-b": {"family": "lstm"}}
    study = _study({"default": [0.97], "lstm-a": [0.96], "lstm-b": [0.99]}, spec=spec)
    assert h2h.best_of_family(study, "lstm") == "lstm-a"
    assert h2h.best_of_family(study, "gpt") == "default"
    assert h2h.best_of_family(study, "mdlm") is None
    [row] = h2h.family_matchups([study], "lstm")
    assert (row["recipe"], row["against"]) == ("lstm-a", "default")
    assert h2h.family_matchups([study], "mdlm") == []
    assert h2h.bytes_per_token(study, "default") == 4.0
