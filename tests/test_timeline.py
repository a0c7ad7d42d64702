"""Watch it learn: `TrainConfig.sample_at_s` records a score and a seeded sample at moments of
the budget, the run stores them, and `nb.timeline` shows them as a page that scrubs without a
kernel and never runs the text it shows."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

import tinylm
from tinylm import notebook as nb
from tinylm.cli.main import build_parser

HOSTILE = "</script><script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"


def test_sample_moments_are_checked_and_sorted():
    cfg = tinylm.TrainConfig(sample_at_s=[30, 5])
    cfg.validate()
    assert cfg.sample_at_s == (5.0, 30.0)
    for bad in ((0,), (-1, 5), ("5",), "5,30", (float("nan"),), (True,)):
        with pytest.raises(ValueError, match="sample_at_s"):
            tinylm.TrainConfig(sample_at_s=bad).validate()
    with pytest.raises(ValueError, match="sample_prompt"):
        tinylm.TrainConfig(sample_prompt=3).validate()


def test_cli_reads_moments_as_comma_separated_seconds():
    args = build_parser().parse_args(["train", "--sample-at-s", "5,30,60"])
    assert args.sample_at_s == (5.0, 30.0, 60.0)
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["train", "--sample-at-s", "5,soon"])
    assert e.value.code == 2


@pytest.mark.slow
def test_a_run_records_each_moment_and_stores_it(small_data, tiny_model_cfg, fast_cfg, tmp_path):
    cfg = fast_cfg(budget_s=2.0, sample_at_s=(0.5, 1.0, 2.0), sample_tokens=12)
    plain = dataclasses.replace(tiny_model_cfg, ngram_order=0)  # the loop has the whole budget
    result = tinylm.train(small_data, plain, cfg, out_dir=tmp_path / "run", progress=False)
    moments = result.metrics["timeline"]
    assert [m["at_s"] for m in moments] == [0.5, 1.0, 2.0]
    steps = [m["step"] for m in moments]
    assert steps == sorted(steps) and steps[-1] == result.metrics["steps"]  # the end: final weights
    assert all(m["text"].startswith(cfg.sample_prompt) and math.isfinite(m["val_bpb"])
               for m in moments)
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["timeline"] == moments
    again = tinylm.train(small_data, tiny_model_cfg, fast_cfg(budget_s=1.0), progress=False)
    assert again.metrics["timeline"] == []  # off unless asked for


def _metrics(text: str) -> dict:
    history = [{"elapsed_s": t, "val_bpb": 3 - t / 10} for t in (1, 2, 3)]
    moments = [{"at_s": t, "elapsed_s": t, "step": 10 * t, "tokens": 2048 * t,
                "val_bpb": 3 - t / 10, "text": f"{text} {t}"} for t in (1, 3)]
    return {"budget_s": 3, "history": history, "timeline": moments}


def test_timeline_markup_cannot_be_closed_by_its_text():
    markup = nb.timeline(_metrics(HOSTILE))._repr_html_()
    assert "data-tinylm-timeline" in markup
    assert "</script><script>window.pwned" not in markup and "<img src=x" not in markup
    assert "no samples" in nb.timeline({"timeline": []}).text


@pytest.mark.slow
def test_timeline_scrubs_in_a_browser_and_shows_text_as_text(tmp_path):
    from browser import lab

    lab.chromium_path()
    page_html = ("<!doctype html><meta charset=utf-8><body>"
                 + nb.timeline(_metrics(HOSTILE), title="<b>t</b>")._repr_html_() + "</body>")
    (tmp_path / "t.html").write_text(page_html)
    with lab.chromium() as browser, lab.new_page(browser) as page:
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                   else route.abort())
        page.goto((tmp_path / "t.html").as_uri())
        root = page.locator("[data-tinylm-timeline]")
        text = root.locator("[data-part=text]")
        assert text.inner_text() == f"{HOSTILE} 3"  # the last moment first, shown literally
        root.locator("input[type=range]").fill("0")
        assert text.inner_text() == f"{HOSTILE} 1"
        assert "after 1 s of training" in root.locator("[data-part=moment]").inner_text()
        assert root.locator("svg polyline").count() == 2
        assert page.evaluate("window.pwned === undefined") and not errors, errors
