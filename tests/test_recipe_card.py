"""The recipe chapter's numbers: the seed noise that verdicts must beat, honest verdicts for
single runs, which part of a row tinylm's defaults include, and the recipe card."""

from __future__ import annotations

import math

import pytest

from tinylm.core.schedule import TrainConfig, lr_at
from tinylm.lab import analysis, noise
from tinylm.lab.recipe_card import CARD, CARD_COLUMNS, card_rows, measured, value
from tinylm.lab.recipes import RECIPES, defaults
from tinylm.lab.results import Study


def _study(name: str, budget: float, recipes: dict[str, tuple[dict, list[float]]]) -> Study:
    """A stored study in memory: {recipe: (spec, [val_bpb of each repeat])}, first = baseline."""
    runs, rows = [], []
    for label, (spec, values) in recipes.items():
        for repeat, v in enumerate(values):
            history = [{"elapsed_s": t, "val_bpb": v + 1 / t} for t in (1.0, budget / 2, budget)]
            runs.append({"recipe": label, "spec": spec, "repeat": repeat, "budget_s": budget,
                         "metrics": {"val_bpb": v, "history": history, "train_seconds": budget}})
        rows.append({"recipe": label, "val_bpb": sum(values) / len(values), "n": len(values),
                     "params": 1000, "tps_ratio": 1.0})
    return Study(name, {"baseline": next(iter(recipes)), "rows": rows}, runs)


REPEATED = _study("repeat-300s", 300, {"default": ({}, [1.00, 1.02]),
                                       "default:width=96": ({"width": 96}, [1.05, 1.06, 1.07])})
NOISE = noise.seed_noise(noise.repeat_spread([REPEATED]))


def test_seed_noise_pools_the_repeats_by_hand():
    spread = noise.repeat_spread([REPEATED])
    assert [(r["n"], round(r["gap"], 6)) for r in spread] == [(2, 0.02), (3, 0.02)]
    # pooled variance: (1 * 0.02**2 / 2 + 2 * 0.01**2) / 3 degrees of freedom
    assert NOISE[300.0]["sd"] == pytest.approx(math.sqrt((0.0002 + 0.0002) / 3))
    assert NOISE[300.0]["recipes"] == 2 and NOISE[300.0]["max_gap"] == pytest.approx(0.02)
    assert noise.noise_at(NOISE, 250) is NOISE[300.0] and noise.noise_at({}, 60) is None
    assert noise.needed_margin(0.01) == pytest.approx(2 * 0.01 * math.sqrt(2))
    cold = _study("recipe4-60s-coldcache", 60, {"default": ({}, [1.0, 1.4])})
    assert noise.repeat_spread([cold]) == []  # not a seed repeat: left out


def test_single_runs_are_judged_by_the_measured_noise_and_never_confirmed():
    screen = _study("screen-300s", 300, {"gpt2": ({"positions": "learned"}, [1.40]),
                                         "gpt2:positions=rotary": ({"positions": "rotary"}, [1.30]),
                                         "gpt2:mlp=swiglu": ({"mlp": "swiglu"}, [1.41])})
    rows = {r["recipe"]: r for r in analysis.effects(screen, noise=NOISE)}
    margin = noise.needed_margin(NOISE[300.0]["sd"])
    assert rows["gpt2:positions=rotary"]["plus_minus"] == pytest.approx(margin)
    assert rows["gpt2:positions=rotary"]["verdict"] == f"better, {noise.UNCONFIRMED}"
    assert rows["gpt2:mlp=swiglu"]["verdict"] == "no clear effect"  # 0.01 < margin (0.0231)
    alone = {r["recipe"]: r for r in analysis.effects(screen, noise={})}
    assert alone["gpt2:positions=rotary"]["verdict"] == noise.UNCONFIRMED
    assert alone["gpt2:positions=rotary"]["plus_minus"] is None
    assert "(no margin)" in analysis.verdict_text(alone["gpt2:positions=rotary"])


def test_two_lucky_repeats_do_not_beat_the_measured_noise():
    lucky = _study("lucky-300s", 300, {"default": ({}, [1.000, 1.0001]),
                                       "default:beta2=0.95": ({"beta2": 0.95}, [1.015, 1.0151])})
    row = analysis.effects(lucky, noise=NOISE)[1]
    assert row["verdict"] == "no clear effect"  # own spread says "hurts"; the seeds say otherwise
    assert analysis.effects(lucky, noise={})[1]["verdict"] == "hurts"


def test_a_row_with_most_of_the_recipe_is_partly_in_it():
    gpt2 = dict(RECIPES["gpt2"])
    old_default = {"width": 96}  # today's defaults but the width of its day
    study = _study("recipe-300s", 300, {"gpt2": (gpt2, [1.16, 1.17]), "default": ({}, [0.96, 0.97]),
                                        "default:width=96": (old_default, [0.97, 0.98])})
    rows = {r["recipe"]: r for r in analysis.effects(study, noise=NOISE)}
    assert rows["default"]["in_recipe"] == "yes"
    assert rows["default:width=96"]["in_recipe"] == "partly: not width=96"
    assert rows["gpt2"]["in_recipe"] == ""


def test_flips_are_changes_whose_sign_changed():
    a = _study("screen-90s", 90, {"base": ({}, [1.0]), "base:lr=0.008": ({"lr": 0.008}, [1.05])})
    b = _study("screen2-90s", 90, {"base": ({}, [1.0]), "base:lr=0.008": ({"lr": 0.008}, [0.97])})
    rows = analysis.effects(a, noise=NOISE) + analysis.effects(b, noise=NOISE)
    assert [f["change"] for f in analysis.flips(rows)] == ["lr=0.008"]
    assert "screen2-90s" in analysis.flip_text(rows)
    assert analysis.flip_text(rows[:2]).startswith("No change flipped")


def test_the_card_reads_its_values_and_measurements():
    assert value("positions", RECIPES["gpt2"]) == "learned"
    assert value("positions", {}) == defaults()["positions"]
    assert value("width", {}) == "auto: 128" and value("width", RECIPES["gpt2"]) == 128
    stored = {"ngram2-300s": _study("ngram2-300s", 300, {
        "default": ({}, [0.88, 0.89]), "gpt2": (dict(RECIPES["gpt2"]), [1.06, 1.07])})}
    rows = card_rows(load=stored.get)
    assert len(rows) == len(CARD) and list(rows[0]) == CARD_COLUMNS
    assert rows[0]["measured"].startswith("GPT-2's setup: +0.180") and "2 runs" in rows[0]["measured"]
    assert all(r["measured"] == "not stored" for r, entry in zip(rows, CARD) if entry[2] not in stored)
    assert rows[0]["shown in"].startswith("this chapter")
    assert measured(stored["ngram2-300s"], "width=64") == "no row 'width=64' in ngram2-300s"


def test_the_schedule_ends_at_zero_for_any_budget():
    for budget in (60.0, 300.0):
        cfg = TrainConfig(budget_s=budget)
        assert lr_at(cfg, 1.0) == 0.0 and lr_at(cfg, 0.3) == cfg.lr


def test_the_recipe_views_draw():
    from tinylm import notebook as nb

    spread = noise.repeat_spread([REPEATED])
    assert nb.seed_spread(spread)._repr_png_().startswith(b"\x89PNG")
    assert isinstance(nb.seed_spread([]), nb.HTML)
    versus = nb.versus(REPEATED, "width=96")
    assert versus._repr_png_().startswith(b"\x89PNG")
    row = analysis.find(analysis.effects(REPEATED), "width=96")[0]
    assert row["verdict"] in versus.axes[0].get_title()  # the verdict is the title
    assert "No stored row" in nb.versus(REPEATED, "width=7").text
    assert nb.schedules({"a": TrainConfig()})._repr_png_().startswith(b"\x89PNG")
    assert "to count" in nb.margin_text(NOISE, 300)
