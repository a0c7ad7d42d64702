"""The teacher's page: every run of a class on one U-curve, drawn from `tinylm.lab.classroom`.

`merge_class(files, out="class.html")` (and `python -m tinylm class merge`) writes one
self-contained HTML file, the figure inlined as a base64 PNG, that a teacher can mail or
project without a server; in a notebook the same object shows itself inline.
"""

from __future__ import annotations

import base64
import html
import tempfile
import textwrap
from dataclasses import fields
from pathlib import Path

from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.transforms import blended_transform_factory

from tinylm.lab import classroom
from tinylm.lab.classroom import ClassRuns
from tinylm.lab.results import Study
from tinylm.notebook.display import HTML, Figure, figure, note, png, table

RUN_COLUMNS = ["file", "line", "run", "student", "machine", "width", "layers", "heads", "params", "corpus",
               "budget_s", "tokens_per_s", "val_bpb"]
PAGE_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
              "padding:0 1em;color:#222} img{max-width:100%} li{margin:2px 0}"
              " h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.4em}")


def class_figure(merged: ClassRuns) -> Figure | HTML:
    """val_bpb against parameters (log x) for every run, coloured by its laptop's speed (a
    thin line through each laptop's runs); the class's median per size as a grey line, its
    optimum starred, each laptop's calibrate pick as a triangle on the top edge. Runs at
    another budget or corpus are drawn hollow."""
    if not merged.runs:
        return note("No runs to plot.")
    if not merged.compared():
        return note(f"No run at the class setting ({merged.setting_text()}) to plot.")
    machines = {m["machine"]: m for m in merged.machines()}
    speed = {m: row["tokens_per_s"] for m, row in machines.items()}
    low, high = min(speed.values()), max(speed.values())
    norm, cmap = Normalize(low, high if high > low else low * 1.001 + 1e-9), colormaps["viridis"]
    fig, ax = figure(width=7.6, height=4.4)
    compared = {id(r) for r in merged.compared()}
    for kept in (True, False):
        rs = [r for r in merged.runs if (id(r) in compared) == kept]
        if not rs:
            continue
        colours = [cmap(norm(speed[r["machine"]])) for r in rs]
        ax.scatter([r["params"] for r in rs], [r["val_bpb"] for r in rs], s=36, zorder=3,
                   c=colours if kept else "none", edgecolors=colours if not kept else "black",
                   linewidths=0.6 if kept else 1.4,
                   label=None if kept else "a run at another budget or corpus")
    ax.scatter([], [], s=36, c="0.6", edgecolors="black", linewidths=0.6,
               label="a run (colour: its laptop's speed)")
    for m in machines:  # each laptop's own curve, thin, behind the class's
        pts = sorted((r["params"], r["val_bpb"]) for r in merged.compared() if r["machine"] == m)
        if pts:
            ax.plot(*zip(*pts), "-", lw=0.8, alpha=0.5, zorder=2, color=cmap(norm(speed[m])))
    curve, best = merged.curve(), merged.optimum()
    ax.plot([c["params"] for c in curve], [c["val_bpb"] for c in curve], "-", color="0.6",
            zorder=1, label="class median per size")
    ax.plot(best["params"], best["val_bpb"], "*", ms=20, color="#e63946", mec="black", zorder=4,
            label=f"class optimum: {best['shape']} ({best['params']:,} parameters)")
    top = blended_transform_factory(ax.transData, ax.transAxes)
    stacked: dict[int, int] = {}  # picks of the same size stack downwards
    for m in (m for m in machines.values() if m["calibrate_params"]):
        k = stacked[m["calibrate_params"]] = stacked.get(m["calibrate_params"], -1) + 1
        ax.plot(m["calibrate_params"], 0.96 - 0.05 * k, "v", ms=9, transform=top, zorder=4,
                color=cmap(norm(speed[m["machine"]])), mec="black", clip_on=False)
    if stacked:
        ax.plot([], [], "v", ms=9, color="0.6", mec="black",
                label="a laptop's calibrate pick (top edge)")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                 label="laptop speed: tokens/s at the best size")
    ax.set_xscale("log")
    corpus, budget = merged.setting
    ax.set(xlabel="parameters", ylabel="val bits per byte (lower is better)")
    ax.set_title(f"the class's U-curve: {len(merged.runs)} runs from {len(machines)} laptops "
                 f"(class setting: {budget:g} s on {corpus})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncols=2, frameon=False)
    return fig


class ClassPage:
    """A merged class as a page: inline in a notebook, `write(path)` for one HTML file."""

    def __init__(self, merged: ClassRuns, title: str = "tinylm: the class's U-curve"):
        self.merged, self.title = merged, title

    def summary(self) -> str:
        """What the page says, in sentences (every number from the merged runs)."""
        return "\n".join(textwrap.fill(t, 88) for t in self._paragraphs())

    def _paragraphs(self) -> list[str]:
        m, best = self.merged, self.merged.optimum()
        if not m.runs:
            return [f"No usable runs ({len(m.skipped)} file(s) or row(s) skipped)."]
        if best is None:
            found = sorted({f"{r['budget_s']:g} s on {r['corpus']}" for r in m.runs})
            return [f"No run at the class setting ({m.setting_text()}): the {len(m.runs)} runs "
                    f"were at {', '.join(found)}."]
        laptops = m.machines()
        elsewhere = len(m.runs) - len(m.compared())
        how = "given" if (m.corpus, m.budget_s) != (None, None) else "the most common"
        text = [f"{len(m.runs)} runs from {len(laptops)} laptop(s) in {len(m.files)} file(s); "
                f"{len(m.skipped)} file(s) or row(s) skipped; "
                + (f"{elsewhere} run(s) at another setting than the class's (named below)."
                   if elsewhere else "no run at another setting."),
                f"Class setting ({how}): {m.setting_text()}. "
                f"The optimum is compared over the {len(m.compared())} runs at "
                f"{best['budget_s']:g} s on {best['corpus']}: {best['shape']} "
                f"({best['params']:,} parameters), median val_bpb {best['val_bpb']:.4f} over "
                f"{best['runs']} run(s) from {best['machines']} laptop(s)"
                + ("." if best["interior"] else "; it is the smallest or largest size tried, so "
                   "the true optimum may lie beyond it.")]
        for lap in laptops:
            pick = (f"calibrate picked {lap['calibrate_shape']} ({lap['calibrate_params']:,} "
                    f"parameters, for {lap['calibrate_budget_s']:g} s)"
                    if lap["calibrate_params"] else "no calibrate pick")
            text.append(f"Laptop {lap['machine']}: {lap['tokens_per_s']:,.0f} tokens/s at the "
                        f"best size; its best run {lap['best_shape']} ({lap['best_params']:,} "
                        f"parameters, val_bpb {lap['best_val_bpb']:.4f}); {pick}.")
        return text

    def body(self) -> str:
        m = self.merged
        fig = class_figure(m)
        picture = (f'<img alt="val_bpb against parameters" src="data:image/png;base64,'
                   f'{base64.b64encode(png(fig, dpi=110, bbox_inches="tight")).decode()}">'
                   if isinstance(fig, Figure) else fig._repr_html_())
        paragraphs = "".join(f"<p>{html.escape(t)}</p>" for t in self._paragraphs())
        runs = sorted(m.runs, key=lambda r: (r["params"], r["val_bpb"]))
        laptops = (table(laptop_rows(m), digits=4)._repr_html_() if m.runs
                   else _items([], "no laptop"))
        elsewhere = m.elsewhere()
        return (f"{paragraphs}{picture}"
                f"<h2>Laptops</h2>{laptops}"
                f"<h2>At another setting ({len(elsewhere)})</h2>"
                f"{_items(elsewhere, f'every run is at the class setting ({m.setting_text()})')}"
                f"<h2>Skipped ({len(m.skipped)})</h2>{_items(m.skipped, 'nothing skipped')}"
                + (f"<h2>Notes</h2>{_items(m.notes, '')}" if m.notes else "")
                + f"<details><summary>every run ({len(runs)})</summary>"
                f"{table(runs, RUN_COLUMNS, digits=4)._repr_html_()}</details>")

    def html(self) -> str:
        """The whole page: one file, nothing to fetch (the figure is inlined)."""
        return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                f"<title>{html.escape(self.title)}</title><style>{PAGE_STYLE}</style></head>"
                f"<body><h1>{html.escape(self.title)}</h1>{self.body()}</body></html>\n")

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return self.body()

    def __repr__(self) -> str:
        return self.summary()


def laptop_rows(merged: ClassRuns) -> list[dict]:
    """`merged.machines()` for a table a page can show without scrolling sideways."""
    laptops = merged.machines()
    named = any(m["students"] for m in laptops)  # no empty column for anonymous files
    return [{"laptop": m["machine"], "files": m["files"],
             **({"students": m["students"]} if named else {}), "runs": m["runs"],
             "tokens/s at the best size": m["tokens_per_s"],
             "best run": f"{m['best_shape']} ({m['best_params']:,})",
             "its val_bpb": m["best_val_bpb"],
             "calibrate pick": f"{m['calibrate_shape']} ({m['calibrate_params']:,}, for "
                               f"{m['calibrate_budget_s']:g} s)" if m["calibrate_params"] else "none"}
            for m in laptops]


def _items(lines: list[str], empty: str) -> str:
    if not lines:
        return f"<p>{html.escape(empty)}</p>"
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def merge_class(files, out: str | Path | None = None, *, budget_s: float | None = None,
                corpus: str | None = None) -> ClassPage:
    """Merge a class's exported CSVs (paths, or a folder of them) into a page; written to
    `out` when given. `budget_s` and `corpus` are the class setting (default: the most common);
    runs at another setting are drawn hollow and named on the page. The same as
    `python -m tinylm class merge FILES --budget 60 --corpus tinystories --out class.html`."""
    page = ClassPage(classroom.merge(files, corpus=corpus, budget_s=budget_s))
    if out is not None:
        page.write(out)
    return page


# ---------------------------------------------------------------- stored sweeps as a class


def study_csvs(studies: list[Study], folder: str | Path | None = None) -> list[Path]:
    """Each stored sweep as the CSV one laptop would export (machine: the study's name), in
    `folder` (default: a new temporary folder), through the panel's own row and export code.
    The stored runs never ran calibrate: the pick is calibrate's rule applied to the sweep's
    measured tokens (the size whose tokens per parameter is closest to the rule's)."""
    from tinylm.core.models import ModelConfig
    from tinylm.lab.recipes import defaults
    from tinylm.notebook.panels.results import result_row
    from tinylm.tuning.calibrate import closest_to_rule

    folder = Path(folder or tempfile.mkdtemp(prefix="tinylm-class-"))
    model_fields = {f.name for f in fields(ModelConfig)}
    out = []
    for study in studies:
        rows = []
        for i, r in enumerate(study.runs, start=1):
            s = {**defaults(), **(r.get("spec") or {}), **r.get("settings", {})}
            cfg = ModelConfig(**{k: v for k, v in s.items() if k in model_fields})
            m = r["metrics"]
            rows.append({**result_row(i, {**s, "vocab": s["vocab_size"]}, cfg, m,
                                      m.get("status", "completed")),
                         "tokens_per_s": round(m["tokens_per_s"], 1)})
        if not rows:
            continue
        pick = closest_to_rule(rows, study.budget_s, lambda r: r["tokens"] / r["params"])
        calibration = {"choice": {k: pick[k] for k in ("width", "layers", "heads")},
                       "params": pick["params"], "budget_s": pick["budget_s"]}
        path = folder / f"{study.name}.csv"
        path.write_text(classroom.to_csv(rows, calibration, machine={"machine": study.name}))
        out.append(path)
    return out
