"""HTML views for chapter cells: metrics, corpora, generated text, effects, stored samples,
and the stored studies themselves (a missing one shows a note saying how to measure it).
"""

from __future__ import annotations

import html

from tinylm.lab import results
from tinylm.lab.analysis import EFFECT_COLUMNS
from tinylm.lab.results import Study
from tinylm.notebook.display import HTML, note, show, table

METRIC_COLUMNS = ("val_bpb", "val_ppl", "params", "tokens_seen", "tokens_per_s", "steps")


def _warn(message: str) -> None:
    show(note(message))


def load_study(name: str, quiet: bool = False) -> Study | None:
    """`tinylm.lab.results.load_study`, showing a note when the study is missing (unless `quiet`)."""
    return results.load_study(name, warn=None if quiet else _warn)


def load_studies(*prefixes: str, quiet: bool = False) -> list[Study]:
    """`tinylm.lab.results.load_studies`, showing a note when none is stored (unless `quiet`)."""
    return results.load_studies(*prefixes, warn=None if quiet else _warn)


def metrics_table(runs: dict) -> HTML:
    """Final metrics of named runs ({name: TrainResult or metrics dict}), one row each."""
    rows = []
    for name, r in runs.items():
        m = getattr(r, "metrics", r)
        rows.append({"run": name, **{k: m.get(k) for k in METRIC_COLUMNS}})
    return table(rows, ["run", *METRIC_COLUMNS])


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
    from tinylm.core.sample import generate

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


def prob_colour(p: float) -> str:
    """Green for tokens the model was sure of, through yellow, to red for surprises."""
    return f"hsl({120 * max(0.0, min(1.0, p)):.0f}, 75%, 82%)"


def tokens_html(records: list[dict], prompt: str = "") -> HTML:
    """Generated tokens coloured by probability; hover one to see what else the model considered
    (`records` from `tinylm.core.sample.token_records`)."""
    spans = []
    for i, r in enumerate(records):
        alts = "; ".join(f"{t!r} {p:.2f}" for t, p in r["top"])
        spans.append(f'<span title="#{i}: p={r["prob"]:.2f} | {html.escape(alts, quote=True)}" '
                     f'style="background:{prob_colour(r["prob"])};border-radius:3px;'
                     f'padding:0 1px">{html.escape(r["text"])}</span>')
    legend = " ".join(f'<span style="background:{prob_colour(p)};padding:0 6px">{p:.1f}</span>'
                      for p in (0.0, 0.25, 0.5, 0.75, 1.0))
    text = prompt + "".join(r["text"] for r in records)
    return HTML(f'<div class="tinylm-tokens" style="white-space:pre-wrap;line-height:1.7;'
                f'font-family:monospace">'
                f"<b>{html.escape(prompt)}</b>{''.join(spans)}</div>"
                f'<div style="font-size:80%">probability of the chosen token: {legend}</div>', text)


def effects_table(rows: list[dict]) -> HTML:
    """The effects (`tinylm.lab.analysis.effects`) as a table (a note when there are none)."""
    return table(rows, EFFECT_COLUMNS, digits=4) if rows else note("No stored results to show.")


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
