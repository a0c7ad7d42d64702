"""Goedecke's quoted numbers (tinylm/notebook/goedecke.py): as his posts give them, converted
to bits per byte as exercise 2 of chapter 6 does by hand, and drawn beside a size sweep."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

from tinylm import notebook as nb  # noqa: E402
from tinylm.lab.results import Study  # noqa: E402
from tinylm.notebook import goedecke  # noqa: E402


def test_the_quoted_numbers_are_his():
    assert goedecke.TRANSFORMERS == ((0.12e6, 21.8), (0.27e6, 16.0), (0.90e6, 10.0),
                                     (1.8e6, 9.7), (2.6e6, 9.7), (4.0e6, 13.0))
    assert goedecke.LSTMS == (11.3, 12.8)
    assert (goedecke.BEST_PARAMS, goedecke.BEST_PPL) == (1.8e6, 9.6)
    assert (goedecke.TUNED_PPL, goedecke.FUSION_PPL) == (8.53, 7.38)
    assert goedecke.BYTES_PER_TOKEN == (3.8, 4.3)


def test_his_perplexity_in_bits_per_byte():
    assert [round(b, 2) for b in goedecke.his_bpb(9.6)] == [0.86, 0.76]
    assert [round(b, 2) for b in goedecke.his_bpb(8.53)] == [0.81, 0.72]
    by_hand = [math.log2(9.6) / bpt for bpt in goedecke.BYTES_PER_TOKEN]
    assert all(math.isclose(a, b) for a, b in zip(goedecke.his_bpb(9.6), by_hand, strict=True))


def _sweep() -> Study:
    """A made-up size sweep: three widths, their runs storing the validation text's size."""
    rows, runs = [], []
    for width, params, loss in ((64, 1_000_000, 2.8), (96, 1_800_000, 2.7), (128, 2_500_000, 2.75)):
        recipe = f"default:width={width}"
        bpb = loss / 4.0 / math.log(2)
        rows.append({"recipe": recipe, "params": params, "val_loss": loss, "val_bpb": bpb})
        runs.append({"recipe": recipe, "repeat": 0, "metrics": {
            "params": params, "val_loss": loss, "val_bpb": bpb, "width": width,
            "val_bytes": 4_000_000, "val_tokens": 1_000_000}})
    return Study("sizes-300s", {"rows": rows, "baseline": rows[0]["recipe"]}, runs)


def test_the_figure_draws_his_points_beside_the_sweep():
    fig = nb.goedecke_sizes(_sweep())
    assert isinstance(fig, nb.Figure)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    his = next(line for label, line in lines.items() if label.startswith("Goedecke"))
    ours = next(line for label, line in lines.items() if label.startswith("tinylm"))
    assert list(his.get_xdata()) == [p for p, _ in goedecke.TRANSFORMERS]
    assert list(his.get_ydata()) == [ppl for _, ppl in goedecke.TRANSFORMERS]
    assert list(ours.get_xdata()) == [1_000_000, 1_800_000, 2_500_000]
    assert [round(y, 6) for y in ours.get_ydata()] == [round(math.exp(x), 6) for x in (2.8, 2.7, 2.75)]
    assert "tokenizer" in fig.axes[0].get_ylabel()
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert "No stored" in nb.goedecke_sizes(None).text


def test_the_conversion_table_has_his_ranges_and_the_sweeps_measurements():
    rows = goedecke.conversions(_sweep())
    assert set(rows[0]) == set(goedecke.COLUMNS)
    assert [r["val_ppl"] for r in rows[:3]] == [9.6, 8.53, 7.38]
    assert rows[0]["val_bpb"] == "0.759–0.859" and rows[0]["bytes/token"] == "assumed 3.8–4.3"
    (ours,) = rows[3:]  # the sweep's best size
    assert ours["model"] == "tinylm's best, width 96" and ours["params"] == 1_800_000
    assert ours["bytes/token"] == 4.0 and math.isclose(ours["val_ppl"], math.exp(2.7))
    assert len(goedecke.conversions(None)) == 3
