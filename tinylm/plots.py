"""Figures, tables and stored results for the book's chapters.

The notebooks stay short by calling these. Figures are `Figure` objects that render
themselves as PNG (no pyplot state), so a cell that ends with one shows exactly one image, in
JupyterLab and in the built HTML alike. Stored benchmark results are read from
`benchmarks/results/<study>/` (or `$TINYLM_RESULTS_DIR`); a missing study gives a note, not a
crash, so a chapter runs before its data exists.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.figure
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import quick

REPO = Path(__file__).resolve().parents[1]
BETTER, WORSE, NEUTRAL = "#2a9d8f", "#e76f51", "#8d99ae"


# ---------------------------------------------------------------- display helpers


class Figure(matplotlib.figure.Figure):
    """A matplotlib figure that displays itself as one PNG (pyplot never sees it)."""

    def _repr_png_(self) -> bytes:
        FigureCanvasAgg(self)
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


def figure(ncols: int = 1, width: float = 6.4, height: float = 3.6):
    """A fresh Figure and its axes (a list when `ncols` > 1)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


class HTML:
    """Rich HTML output (a table, coloured tokens) with a plain-text fallback."""

    def __init__(self, markup: str, text: str = ""):
        self.markup, self.text = markup, text or "(HTML output)"

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


def note(message: str) -> HTML:
    """A highlighted remark, e.g. that stored results are missing."""
    style = "border-left:4px solid #e9c46a;background:#fdf6e3;padding:6px 10px;margin:4px 0"
    return HTML(f'<div style="{style}">{html.escape(message)}</div>', message)


def mode_note() -> HTML | None:
    """Say so when quick mode shrank the budgets: its numbers are only a smoke test."""
    if quick.is_quick():
        return note("Quick mode (TINYLM_QUICK=1): every training budget is a few seconds, so the "
                    "live numbers on this page are a smoke test, not results.")
    return None


def fmt(value, digits: int = 3) -> str:
    """Numbers for tables: thousands separators for counts, `digits` significant decimals."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 1000 or (value.is_integer() and abs(value) >= 10):
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


TABLE_STYLE = ("<style>.tinylm-table td, .tinylm-table th {padding: 2px 10px; text-align: left}"
               " .tinylm-table td.num {text-align: right}</style>")


def table(rows: list[dict], columns: list[str] | None = None, digits: int = 3) -> HTML:
    """An HTML table of dicts (columns default to the first row's keys); a note when empty."""
    if not rows:
        return note("Nothing to show yet.")
    columns = columns or list(rows[0])

    def cell(v) -> str:
        kind = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
        return f"<td{kind}>{html.escape(fmt(v, digits))}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(r.get(c)) for c in columns) + "</tr>" for r in rows)
    text = "\n".join(" | ".join(fmt(r.get(c), digits) for c in columns) for r in rows)
    return HTML(f'{TABLE_STYLE}<div style="overflow-x:auto"><table class="tinylm-table"><thead>'
                f"<tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
                " | ".join(columns) + "\n" + text)


METRIC_COLUMNS = ("val_bpb", "val_ppl", "params", "tokens_seen", "tokens_per_s", "steps")


def metrics_table(results: dict) -> HTML:
    """Final metrics of named runs ({name: TrainResult or metrics dict}), one row each."""
    rows = []
    for name, r in results.items():
        m = getattr(r, "metrics", r)
        rows.append({"run": name, **{k: m.get(k) for k in METRIC_COLUMNS}})
    return table(rows, ["run", *METRIC_COLUMNS])


# ---------------------------------------------------------------- live training plot


class LiveLoss:
    """A training callback that redraws a loss plot in place while `tinylm.train` runs.

    Pass it as `callback=`. Drawing takes wall clock away from the training budget, so it
    redraws at most every `every_s` seconds and never spends more than about 2% of the time
    drawing. The final picture (with the end metrics in its title) stays in the notebook, also
    when the notebook is executed headless for the book.
    """

    def __init__(self, title: str = "", every_s: float = 2.0):
        self.title, self.every_s = title, every_s
        self.history: list[dict] = []
        self.metrics: dict | None = None
        self._last = self._cost = 0.0
        self._handle = None
        self._show()

    def __call__(self, record: dict) -> None:
        if record.get("event") == "end":
            self.metrics = record
            self._show()
        elif record.get("event", "log") == "log":
            self.history.append(record)
            if time.perf_counter() - self._last >= max(self.every_s, 50 * self._cost):
                self._show()

    def figure(self) -> Figure:
        fig, ax = figure(height=3.2)
        _plot_history(ax, self.history, label="train loss")
        val = [r for r in self.history if "val_loss" in r]
        ax.plot([r["elapsed_s"] for r in val], [r["val_loss"] for r in val], "o", color=WORSE,
                label="validation loss")
        ax.set(xlabel="seconds of training", ylabel="loss (nats per token)")
        title = self.title
        if self.metrics:
            m = self.metrics
            title += f"  (final: val_bpb {m['val_bpb']:.3f}, ppl {m['val_ppl']:.2f})"
        elif not self.history:
            title += "  (waiting for the first steps...)"
        ax.set_title(title.strip(), fontsize=10)
        if self.history:
            ax.legend(fontsize=8)
        return fig

    def _show(self) -> None:
        start = time.perf_counter()
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:
            return
        if get_ipython() is None:
            return  # plain Python: just collect the history
        image = Image(data=self.figure()._repr_png_(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        self._last = time.perf_counter()
        self._cost = self._last - start


def _plot_history(ax, history: list[dict], key: str = "train_loss", **kwargs):
    pts = [(r["elapsed_s"], r[key]) for r in history if r.get(key) is not None]
    if pts:
        ax.plot(*zip(*pts), **kwargs)


# ---------------------------------------------------------------- stored benchmark results


def results_dir() -> Path:
    return Path(os.environ.get("TINYLM_RESULTS_DIR") or REPO / "benchmarks" / "results")


@dataclass
class Study:
    """One benchmark study: its summary (one row per recipe) and every run (with histories)."""

    name: str
    summary: dict
    runs: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> list[dict]:
        return self.summary.get("rows", [])

    @property
    def baseline(self) -> str | None:
        return self.summary.get("baseline")

    @property
    def budget_s(self) -> float | None:
        budgets = {r.get("budget_s") for r in self.runs if r.get("budget_s")}
        if len(budgets) == 1:
            return float(budgets.pop())
        digits = "".join(c for c in self.name.rsplit("-", 1)[-1] if c.isdigit())
        return float(digits) if digits else None

    def spec(self, recipe: str) -> dict:
        """The overrides against today's defaults that reproduce a recipe's runs ({} when
        unknown). Runs store their complete settings, so an old study keeps its meaning when
        the defaults move."""
        from .recipes import overrides

        for r in self.runs:
            if r.get("recipe") == recipe:
                return overrides(r["settings"]) if "settings" in r else dict(r.get("spec") or {})
        return {}

    def histories(self, recipe: str) -> list[list[dict]]:
        return [r["metrics"].get("history", []) for r in self.runs if r.get("recipe") == recipe]


def load_study(name: str, quiet: bool = False) -> Study | None:
    """A stored study, or None (after showing a note saying how to produce it)."""
    folder = results_dir() / name
    path = folder / "summary.json"
    if not path.exists():
        if not quiet:
            _display(note(f"No stored results for study '{name}' yet ({_rel(path)} is missing). "
                          "Measure it with the benchmark harness (a chapter's RECOMPUTE switch "
                          "shows the command), then run this cell again."))
        return None
    runs_path = folder / "runs.jsonl"
    runs = []
    if runs_path.exists():
        runs = [json.loads(line) for line in runs_path.read_text().splitlines() if line.strip()]
    return _in_todays_terms(Study(name, json.loads(path.read_text()), runs))


def _in_todays_terms(study: Study) -> Study:
    """Relabel a study's recipes with specs that mean the same runs under today's defaults.

    A label is typed relative to the defaults of its day ("default" was 5 layers x 64 once);
    runs that store their complete settings are renamed so tables, plots and recomputation
    all describe what actually ran."""
    from .recipes import RECIPES, label

    names = {}
    for r in study.runs:
        if "settings" in r and r["recipe"] not in names:
            name = r["recipe"].partition(":")[0]
            names[r["recipe"]] = label(name if name in RECIPES else "default", r["settings"])
    if not names:
        return study
    runs = [{**r, "recipe": names.get(r["recipe"], r["recipe"])} for r in study.runs]
    summary = dict(study.summary)
    summary["rows"] = [{**row, "recipe": names.get(row["recipe"], row["recipe"])}
                       for row in study.rows]
    if summary.get("baseline"):
        summary["baseline"] = names.get(summary["baseline"], summary["baseline"])
    return Study(study.name, summary, runs)


def load_studies(*prefixes: str, quiet: bool = False) -> list[Study]:
    """Every stored study whose name starts with one of `prefixes`, by budget then name."""
    names = sorted({p.parent.name for prefix in prefixes
                    for p in results_dir().glob(f"{prefix}*/summary.json")})
    studies = [s for s in (load_study(n, quiet=True) for n in names) if s is not None]
    if not studies and not quiet:
        wanted = ", ".join(f"'{p}*'" for p in prefixes)
        _display(note(f"No stored results for studies {wanted} yet (looked in "
                      f"{_rel(results_dir())}). Measure them with the benchmark harness (a "
                      "chapter's RECOMPUTE switch shows the command), then run this cell again."))
    return sorted(studies, key=lambda s: (s.budget_s or 0, s.name))


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def _display(obj) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(obj)
    else:
        print(repr(obj))


KNOWN_STUDIES = {"recipe-300s": ["--budget", "300", "--repeats", "2", "gpt2", "default"]}


def harness_commands(studies: list[str], out: str = "runs/results") -> list[list[str]]:
    """Command lines of benchmarks/run.py that measure the named studies (or name prefixes)
    again, into `out`, with the recipes, budget and repeats of the stored runs."""
    commands = []
    for key in studies:
        found = [load_study(p.parent.name, quiet=True) for p in results_dir().glob(f"{key}*/summary.json")]
        found = sorted((s for s in found if s), key=lambda s: (s.budget_s or 0, s.name))
        for study in found or ([Study(key, {})] if key in KNOWN_STUDIES else []):
            name = study.name
            if not study.runs:
                if name not in KNOWN_STUDIES:
                    continue
                args = KNOWN_STUDIES[name]
            else:
                labels = list(dict.fromkeys(r["recipe"] for r in study.runs))
                repeats = 1 + max(r.get("repeat", 0) for r in study.runs)
                corpus = study.runs[0].get("corpus", "tinystories")
                args = ["--budget", f"{study.budget_s:g}", "--repeats", str(repeats),
                        "--corpus", corpus, *labels]
            commands.append([sys.executable, "benchmarks/run.py", "--study", name, *args,
                             "--out", out])
    return commands


def use_results(folder: str | Path) -> None:
    """Read stored results from `folder` (relative to the repository) from now on."""
    os.environ["TINYLM_RESULTS_DIR"] = str(REPO / folder)


def train_recipe(spec: dict, budget_s: float, title: str = "", **kwargs):
    """Train a stored recipe's settings live for `budget_s`, with a live loss plot.

    The training text is capped as quick mode asks (`quick.data_cap`), so quick runs stay quick.
    """
    from .data import DataConfig, prepare
    from .models import ModelConfig
    from .recipes import configs
    from .train import train

    cap = quick.data_cap(spec.get("max_train_bytes", DataConfig.max_train_bytes))
    data_cfg, model_kwargs, train_cfg = configs(spec, budget_s=budget_s, max_train_bytes=cap)
    data = prepare(data_cfg)
    model_cfg = ModelConfig(vocab_size=data.vocab_size, **model_kwargs)
    return train(data, model_cfg, train_cfg, callback=LiveLoss(title), **kwargs)


def changes(spec: dict, base: dict | None = None) -> dict:
    """The settings in which `spec` differs from `base`. A setting only `base` overrides is
    tinylm's default in `spec` (a stored spec lists overrides, not every setting)."""
    base, d = base or {}, defaults()
    out = {k: v for k, v in spec.items() if k not in base or base[k] != v}
    out.update({k: d.get(k) for k in base if k not in spec and d.get(k) != base[k]})
    return out


def describe_spec(spec: dict, base: dict | None = None) -> str:
    """The settings in which `spec` differs from `base`, as 'key=value' text."""
    return ", ".join(f"{k}={v}" for k, v in sorted(changes(spec, base).items())) or "(same settings)"


# ---------------------------------------------------------------- effects of recipe changes


def effects(study: Study | None, tolerance: float = 0.01) -> list[dict]:
    """Each recipe's val_bpb against the study's baseline, with a verdict.

    A change "helps" or "hurts" when its mean difference exceeds twice the combined standard
    error of the repeats, or `tolerance` bits per byte when there is only one run of each.
    `in_recipe` says whether tinylm's default settings include the change.
    """
    if study is None:
        return []
    per = {}
    for r in study.runs:
        per.setdefault(r["recipe"], []).append(r["metrics"]["val_bpb"])
    rows = {r["recipe"]: r for r in study.rows}
    base_name = study.baseline or (study.rows[0]["recipe"] if study.rows else None)
    if base_name not in rows:
        return []
    base_vals = per.get(base_name) or [rows[base_name]["val_bpb"]]
    base_spec = study.spec(base_name)
    out = []
    for name, row in rows.items():
        vals = per.get(name) or [row["val_bpb"]]
        delta = statistics.fmean(vals) - statistics.fmean(base_vals)
        se = math.sqrt(_var(vals) / len(vals) + _var(base_vals) / len(base_vals))
        margin = 2 * se if len(vals) > 1 and len(base_vals) > 1 else tolerance
        verdict = ("baseline" if name == base_name else "helps" if delta < -margin
                   else "hurts" if delta > margin else "no clear effect")
        out.append({"study": study.name, "budget_s": study.budget_s, "recipe": name,
                    "change": describe_spec(study.spec(name), base_spec) if name != base_name
                    else name.replace(",", ", "),
                    "val_bpb": statistics.fmean(vals), "delta_bpb": delta, "plus_minus": margin,
                    "n": len(vals), "params": row.get("params"), "tps_ratio": row.get("tps_ratio"),
                    "verdict": verdict,
                    "in_recipe": "" if name == base_name else
                    "yes" if in_defaults(study.spec(name), base_spec) else "no"})
    return sorted(out, key=lambda r: (r["verdict"] != "baseline", r["delta_bpb"]))


def _var(values: list[float]) -> float:
    return statistics.variance(values) if len(values) > 1 else 0.0


def defaults() -> dict:
    """tinylm's current default settings (the recipe): data, model and training together."""
    from .recipes import defaults as current

    return current()


def in_defaults(spec: dict, base: dict | None = None) -> bool:
    """Whether every setting in which `spec` differs from `base` is tinylm's default now."""
    d, changed = defaults(), changes(spec, base)
    return bool(changed) and all(d.get(k) == v for k, v in changed.items())


EFFECT_COLUMNS = ["study", "change", "val_bpb", "delta_bpb", "plus_minus", "n", "tps_ratio",
                  "verdict", "in_recipe"]


def effects_table(rows: list[dict]) -> HTML:
    """The effects as a table (a note when there are none)."""
    return table(rows, EFFECT_COLUMNS, digits=4) if rows else note("No stored results to show.")


def verdict_text(row: dict) -> str:
    """One sentence about one change, with its measured numbers."""
    budget = f", {row['budget_s']:.0f} s" if row.get("budget_s") else ""
    text = (f"{row['change']} ({row['study']}{budget}): val_bpb {row['val_bpb']:.4f}, "
            f"{row['delta_bpb']:+.4f} ± {row['plus_minus']:.4f} bits per byte against "
            f"the baseline over {row['n']} run(s): {row['verdict']}"
            + (f"; in tinylm's defaults: {row['in_recipe']}." if row.get("in_recipe") else "."))
    return textwrap.fill(text, 88, subsequent_indent="  ")


def recipe_specs(study: Study | None) -> dict[str, dict]:
    """{recipe: overrides} of a stored study; GPT-2 vs tinylm's defaults when it is missing."""
    if study is None:
        from .recipes import RECIPES

        return {name: dict(RECIPES[name]) for name in ("gpt2", "default")}
    names = [study.baseline] + [r["recipe"] for r in study.rows if r["recipe"] != study.baseline]
    return {n: study.spec(n) for n in names if n}


def delta_bars(rows: list[dict]):
    """Bars of val_bpb minus the baseline's, one panel per study: left of zero is better."""
    rows = [r for r in rows if r["verdict"] != "baseline"]
    if not rows:
        return note("No stored results to plot.")
    studies = list(dict.fromkeys(r["study"] for r in rows))
    sizes = [sum(r["study"] == s for r in rows) for s in studies]
    fig = Figure(figsize=(6.4, 0.4 * sum(sizes) + 1.1 * len(studies)), layout="constrained")
    axes = fig.subplots(len(studies), 1, squeeze=False, height_ratios=[n + 1.5 for n in sizes])
    for ax, study in zip(axes[:, 0], studies):
        part = [r for r in rows if r["study"] == study]
        colours = [BETTER if r["verdict"] == "helps" else WORSE if r["verdict"] == "hurts"
                   else NEUTRAL for r in part]
        y = list(range(len(part)))
        ax.barh(y, [r["delta_bpb"] for r in part], xerr=[r["plus_minus"] for r in part],
                color=colours, capsize=3)
        ax.set_yticks(y, [_short(r["change"]) for r in part], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.8)
        budget = part[0].get("budget_s")
        ax.set_title(f"{study}" + (f" ({budget:.0f} s runs)" if budget else "")
                     + ": one change to its first recipe", fontsize=9)
    axes[-1, 0].set_xlabel("change in val_bpb (bits per byte; negative = better)")
    return fig


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def find(rows: list[dict], word: str) -> list[dict]:
    """The effect rows whose recipe name or change mentions `word` (e.g. 'rotary')."""
    return [r for r in rows if word in r["recipe"] or word in r["change"]]


def verdicts(rows: list[dict], keep: tuple[str, ...] | None = None, word: str | None = None) -> str:
    """One sentence per change (optionally only some verdicts, or those mentioning `word`)."""
    rows = [r for r in (find(rows, word) if word else rows) if r["verdict"] != "baseline"
            and (keep is None or r["verdict"] in keep)]
    return "\n".join(verdict_text(r) for r in rows) or "No stored result of this kind yet."


# ---------------------------------------------------------------- curves over time


def loss_curves(runs: dict[str, list[dict]], key: str = "train_loss", title: str = "") -> Figure:
    """One line per run of `key` (train_loss, val_loss or val_bpb) against seconds of training."""
    fig, ax = figure()
    for name, history in runs.items():
        marker = "o-" if key.startswith("val") else "-"
        pts = [(r["elapsed_s"], r[key]) for r in history if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), marker, label=name, ms=3)
    ylabel = {"train_loss": "training loss (nats per token)", "val_loss": "val loss (nats per token)",
              "val_bpb": "val bits per byte"}.get(key, key)
    ax.set(xlabel="seconds of training", ylabel=ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def study_curves(study: Study | None, key: str = "val_bpb"):
    """Loss against time for every recipe of a study (the first repeat of each)."""
    if study is None or not study.runs:
        return note("No stored runs to plot.")
    runs = {}
    for r in study.runs:
        runs.setdefault(r["recipe"], r["metrics"].get("history", []))
    return loss_curves(runs, key, title=study.name)


# ---------------------------------------------------------------- the size sweep


def optimum(study: Study) -> dict:
    """The row with the lowest val_bpb."""
    return min(study.rows, key=lambda r: r["val_bpb"])


def size_curves(studies: list[Study], key: str = "val_bpb"):
    """val_bpb against parameters, one line per budget, the best size of each starred."""
    if not studies:
        return note("No stored size sweeps to plot.")
    fig, ax = figure()
    for s in studies:
        rows = sorted(s.rows, key=lambda r: r["params"])
        style = "o-" if s.name.startswith("sizes-") else "s--"
        (line,) = ax.plot([r["params"] for r in rows], [r[key] for r in rows], style, ms=4,
                          label=_budget_label(s))
        best = min(rows, key=lambda r: r[key])
        ax.plot(best["params"], best[key], "*", ms=16, color=line.get_color(), mec="black")
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="val bits per byte" if key == "val_bpb" else key)
    ax.set_title("the best size (star) for each training budget", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def _budget_label(s: Study) -> str:
    """'300 s' for the default recipe's sweeps, the study's name for any other."""
    return f"{s.budget_s:.0f} s" if s.budget_s and s.name.startswith("sizes-") else s.name


def throughput(studies: list[Study], measured: list[dict] | None = None):
    """Training tokens per second against parameters: stored runs, and this laptop if measured."""
    if not studies and not measured:
        return note("No stored size sweeps to plot.")
    fig, ax = figure()
    for s in studies:
        rows = sorted(s.rows, key=lambda r: r["params"])
        ax.plot([r["params"] for r in rows], [r["tokens_per_s"] for r in rows], "o-", ms=4,
                label=f"benchmark runs, {_budget_label(s)}")
    if measured:
        rows = sorted(measured, key=lambda r: r["params"])
        speed = [r.get("tokens_per_s", r.get("eager_tokens_per_s")) for r in rows]
        ax.plot([r["params"] for r in rows], speed, "s--", ms=5, color="black",
                label="this machine (eager probe)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="parameters", ylabel="training tokens per second")
    ax.set_title("bigger models see fewer tokens in the same time", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def optima(studies: list[Study]) -> list[dict]:
    """Per study: the best size, whether sizes on both sides were tried (`interior`), its score,
    how many tokens each parameter saw, and the share of its parameters in embedding tables."""
    out = []
    for s in studies:
        b = optimum(s)
        runs = [r["metrics"] for r in s.runs if r.get("recipe") == b["recipe"]]
        non_embedding = runs[0].get("params_non_embedding") if runs else None
        sizes = sorted(r["params"] for r in s.rows)
        out.append({"study": s.name, "budget_s": s.budget_s, "best_recipe": b["recipe"],
                    "params": b["params"], "interior": sizes[0] < b["params"] < sizes[-1],
                    "val_bpb": b["val_bpb"], "val_ppl": b.get("val_ppl"),
                    "tokens_seen": b.get("tokens_seen"),
                    "tokens_per_param": (b.get("tokens_seen") or 0) / b["params"],
                    "embedding_share": 1 - non_embedding / b["params"] if non_embedding else None})
    return out


OPTIMA_COLUMNS = ["study", "params", "interior", "val_bpb", "val_ppl", "tokens_seen",
                  "tokens_per_param", "embedding_share"]


def optimum_vs_budget(studies: list[Study]):
    """The best parameter count against the training budget (needs two budgets or more)."""
    if len(studies) < 2:
        return note("Only one training budget is stored: nothing to compare yet.")
    rows = optima(studies)
    fig, ax = figure(height=3.0)
    ax.plot([r["budget_s"] for r in rows], [r["params"] for r in rows], "*-", ms=12)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="training budget (seconds)", ylabel="best size (parameters)")
    ax.set_title("the optimum moves with the budget", fontsize=10)
    return fig


# ---------------------------------------------------------------- data and samples


def data_table(corpora: dict) -> HTML:
    """Size and tokenization of prepared corpora ({name: TokenData})."""
    rows = []
    for name, d in corpora.items():
        m = d.meta
        rows.append({"corpus": name, "train MB": m["train_bytes"] / 1e6, "train tokens": m["train_tokens"],
                     "val tokens": m["val_tokens"], "vocab": m["vocab"],
                     "bytes per token": m["bytes_per_token"]})
    return table(rows, digits=2)


def samples(models: dict, prompts: list[str], **settings) -> HTML:
    """A grid of generated text: one row per prompt, one column per model ({name: (model, tok)})."""
    from .sample import generate

    head = "<th>prompt</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in models)
    body, text = "", []
    for p in prompts:
        cells = []
        for name, (model, tok) in models.items():
            out = generate(model, tok, p, **settings)
            text.append(f"[{name}] {out}")
            cells.append(f'<td style="vertical-align:top;white-space:pre-wrap;text-align:left">'
                         f"<b>{html.escape(p)}</b>{html.escape(out[len(p):])}</td>")
        body += f"<tr><td style='vertical-align:top'>{html.escape(p)}</td>{''.join(cells)}</tr>"
    return HTML(f'<table class="tinylm-samples"><thead><tr>{head}</tr></thead><tbody>{body}'
                "</tbody></table>", "\n\n".join(text))


def token_records(model, tokenizer, prompt: str = "", top: int = 5, **settings) -> list[dict]:
    """Each generated token with the probability the model gave it and its top alternatives."""
    from .sample import token_records as records

    return records(model, tokenizer, prompt, top, **settings)


def prob_colour(p: float) -> str:
    """Green for tokens the model was sure of, through yellow, to red for surprises."""
    return f"hsl({120 * max(0.0, min(1.0, p)):.0f}, 75%, 82%)"


def tokens_html(records: list[dict], prompt: str = "") -> HTML:
    """Generated tokens coloured by probability; hover one to see what else the model considered."""
    spans = []
    for i, r in enumerate(records):
        alts = "; ".join(f"{t!r} {p:.2f}" for t, p in r["top"])
        spans.append(f'<span title="#{i}: p={r["prob"]:.2f} | {html.escape(alts, quote=True)}" '
                     f'style="background:{prob_colour(r["prob"])};border-radius:3px;'
                     f'padding:0 1px">{html.escape(r["text"])}</span>')
    legend = " ".join(f'<span style="background:{prob_colour(p)};padding:0 6px">{p:.1f}</span>'
                      for p in (0.0, 0.25, 0.5, 0.75, 1.0))
    text = prompt + "".join(r["text"] for r in records)
    return HTML(f'<div style="white-space:pre-wrap;line-height:1.7;font-family:monospace">'
                f"<b>{html.escape(prompt)}</b>{''.join(spans)}</div>"
                f'<div style="font-size:80%">probability of the chosen token: {legend}</div>', text)


def alternatives(records: list[dict], position: int) -> Figure:
    """The model's top candidates at one position of a generated text, the chosen one marked."""
    r = records[position]
    names = [repr(t) for t, _ in r["top"]]
    fig, ax = figure(height=2.6)
    colours = [BETTER if t == r["text"] else NEUTRAL for t, _ in r["top"]]
    ax.barh(names, [p for _, p in r["top"]], color=colours)
    ax.invert_yaxis()
    ax.set(xlabel="probability", xlim=(0, min(1.0, 1.15 * max(p for _, p in r["top"]) + 1e-3)))
    context = "".join(x["text"] for x in records[max(0, position - 8):position])
    ax.set_title(f"after ...{context!r}, the model chose {r['text']!r}", fontsize=9)
    return fig


def repetition(text: str, n: int = 4) -> float:
    """Share of word n-grams that already appeared earlier in the text (0 = no loops)."""
    words = text.split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


# ---------------------------------------------------------------- other model families

FAMILY_NAMES = {"gpt": "transformer", "lstm": "LSTM", "mdlm": "diffusion (MDLM, bound)"}


def family_rows(studies: list[Study]) -> list[dict]:
    """One row per recipe of the `families-*` studies: family, budget, size, speed, val_bpb
    (for the diffusion model an upper bound)."""
    out = []
    for s in studies:
        for r in s.rows:
            spec = s.spec(r["recipe"])
            out.append({"budget_s": s.budget_s, "family": FAMILY_NAMES[spec.get("family", "gpt")],
                        "recipe": r["recipe"], "params": r["params"],
                        "tokens_per_s": r["tokens_per_s"], "tokens_seen": r["tokens_seen"],
                        "val_bpb": r["val_bpb"], "n": r["n"]})
    return out


def family_sizes(studies: list[Study]):
    """val_bpb against parameters for each family, one panel per budget, each best starred."""
    rows = family_rows(studies)
    if not rows:
        return note("No stored family studies to plot.")
    budgets = sorted({r["budget_s"] for r in rows})
    fig, axes = figure(ncols=len(budgets), width=4.6 * len(budgets), height=3.6)
    axes = list(axes) if len(budgets) > 1 else [axes]
    for ax, budget in zip(axes, budgets, strict=True):
        for name in FAMILY_NAMES.values():
            pts = sorted((r["params"], r["val_bpb"]) for r in rows
                         if r["budget_s"] == budget and r["family"] == name)
            if not pts:
                continue
            (line,) = ax.plot(*zip(*pts, strict=True), "o-", ms=4, label=name)
            best = min(pts, key=lambda p: p[1])
            ax.plot(*best, "*", ms=14, color=line.get_color(), mec="black")
        ax.set_xscale("log")
        ax.set(xlabel="parameters", ylabel="val bits per byte", title=f"{budget:.0f} s budget")
        ax.legend(fontsize=8)
    return fig


def family_verdicts(studies: list[Study]) -> str:
    """Per budget, each family's best run against the best transformer, in sentences."""
    rows = family_rows(studies)
    lines = []
    for budget in sorted({r["budget_s"] for r in rows}):
        here = [r for r in rows if r["budget_s"] == budget]
        best = {}
        for r in here:
            if r["family"] not in best or r["val_bpb"] < best[r["family"]]["val_bpb"]:
                best[r["family"]] = r
        ref = best.get(FAMILY_NAMES["gpt"])
        if ref is None:
            continue
        lines.append(f"{budget:.0f} s: best transformer {ref['recipe']} ({ref['params']:,} "
                     f"parameters, {ref['tokens_per_s']:,.0f} tokens/s): val_bpb "
                     f"{ref['val_bpb']:.4f}.")
        for name, r in best.items():
            if r is ref:
                continue
            change = r["val_bpb"] / ref["val_bpb"] - 1
            lines.append(f"  best {name}: {r['recipe']} ({r['params']:,} parameters, "
                         f"{r['tokens_per_s']:,.0f} tokens/s): val_bpb {r['val_bpb']:.4f}, "
                         f"{abs(change):.1%} {'lower' if change < 0 else 'higher'} than the "
                         f"transformer.")
    return "\n".join(textwrap.fill(line, 88, subsequent_indent="    ") for line in lines) \
        or "No stored family studies."


def stored_samples(study: Study | None) -> HTML:
    """The story each recipe of a study wrote at the end of its run (same prompt and seed)."""
    if study is None:
        return note("No stored study.")
    rows, seen = [], set()
    for r in study.runs:
        if r["recipe"] in seen or "sample" not in r:
            continue
        seen.add(r["recipe"])
        rows.append({"recipe": r["recipe"].replace(",", ", "),
                     "val_bpb": r["metrics"]["val_bpb"], "sample": r["sample"]["text"]})
    return table(rows, ["recipe", "val_bpb", "sample"], digits=4) if rows else \
        note(f"The runs of {study.name} stored no samples.")


# ---------------------------------------------------------------- the reader's own calibration


def closest(studies: list[Study], budget_s: float) -> Study | None:
    """The stored study whose budget is nearest (on a log scale) to `budget_s`."""
    timed = [s for s in studies if s.budget_s]
    return min(timed, key=lambda s: abs(math.log(s.budget_s / budget_s)), default=None)


def speed_factor(live: dict, stored: dict) -> float:
    """How many times faster this machine trained than the benchmark machine, same model."""
    return live["tokens_per_s"] / stored["tokens_per_s"]


def your_optimum(studies: list[Study], factor: float, budget_s: float = 300) -> dict | None:
    """The stored optimum whose budget best matches `budget_s` on a machine `factor` x as fast."""
    study = closest(studies, budget_s * factor)
    if study is None:
        return None
    return {"equivalent_budget_s": budget_s * factor, **optima([study])[0]}


def calibration(live: dict, stored: dict | None, studies: list[Study], budget_s: float = 300) -> str:
    """What a live run's speed says about this machine's five minutes, in one paragraph."""
    if not stored or not stored.get("tokens_per_s"):
        return ("No stored run of this model to compare with: this machine trained it at "
                f"{live['tokens_per_s']:,.0f} tokens/s.")
    factor = speed_factor(live, stored)
    best = your_optimum(studies, factor, budget_s)
    text = (f"This machine trained the model at {live['tokens_per_s']:,.0f} tokens/s, {factor:.2f} "
            f"times the benchmark machine's {stored['tokens_per_s']:,.0f}. So {budget_s:.0f} s here "
            f"buy about as many tokens as {best['equivalent_budget_s']:.0f} s there; the closest "
            f"stored sweep ({best['budget_s']:.0f} s) puts the best size at {best['params']:,} "
            f"parameters ({best['best_recipe']}, val_bpb {best['val_bpb']:.3f}).")
    return textwrap.fill(text, 88)
