"""Watch it learn: a run's samples at moments of its budget, as a timeline the reader scrubs.

A run trained with `TrainConfig(sample_at_s=(5, 15, 30, ...))` stores, at each moment, its
validation score and what it wrote (`metrics["timeline"]`). This draws them as one block of
HTML with its own small script, so it works where no kernel runs (the web edition) as well
as in JupyterLab: a slider picks the moment; the page shows the score, the loss curve up to
that moment and the text. Model text is untrusted: the script inserts it with textContent, and
the data sits in a JSON script tag that cannot close itself.
"""

from __future__ import annotations

import html
import json
import uuid
from pathlib import Path

from tinylm.lab.results import results_dir
from tinylm.notebook.display import HTML, note
from tinylm.web import script_json

STUDY = "timeline-300s"  # stored by `python -m benchmarks.timeline`

SCRIPT = """
(function () {
  const root = document.getElementById(%(id)s);
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  const data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const slider = root.querySelector("input[type=range]");
  const label = root.querySelector("[data-part=moment]");
  const text = root.querySelector("[data-part=text]");
  const svg = root.querySelector("svg");
  const NS = "http://www.w3.org/2000/svg", W = 480, H = 140, P = 28;
  const pts = data.history.filter(r => r.val_bpb != null);
  const tmax = Math.max(data.budget_s, ...pts.map(r => r.elapsed_s));
  const ys = pts.map(r => r.val_bpb), ymin = Math.min(...ys), ymax = Math.max(...ys);
  const x = t => P + (W - 2 * P) * t / tmax;
  const y = v => H - P - (H - 2 * P) * (v - ymin) / Math.max(ymax - ymin, 1e-9);
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return svg.appendChild(e);
  }
  function axisText(s, ax, ay, anchor) {
    const t = el("text", {x: ax, y: ay, "font-size": 10, "text-anchor": anchor, fill: "#555"});
    t.textContent = s;
  }
  function draw(i) {
    const m = data.moments[i];
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    el("polyline", {points: pts.map(r => x(r.elapsed_s) + "," + y(r.val_bpb)).join(" "),
                    fill: "none", stroke: "#ccc", "stroke-width": 1.5});
    const upto = pts.filter(r => r.elapsed_s <= m.elapsed_s + 1e-9);
    if (upto.length) el("polyline", {points: upto.map(r => x(r.elapsed_s) + "," + y(r.val_bpb)).join(" "),
                                     fill: "none", stroke: "#1f77b4", "stroke-width": 2});
    el("circle", {cx: x(m.elapsed_s), cy: y(Math.min(Math.max(m.val_bpb, ymin), ymax)), r: 4,
                  fill: "#d62728"});
    axisText("seconds of training", W / 2, H - 4, "middle");
    axisText(ymax.toFixed(2), P - 4, P, "end");
    axisText(ymin.toFixed(2), P - 4, H - P, "end");
    axisText("0", P, H - P + 12, "middle");
    axisText(String(Math.round(tmax)), W - P, H - P + 12, "middle");
    label.textContent = "after " + m.at_s + " s of training (step " + m.step + ", " +
      m.tokens.toLocaleString("en") + " tokens): " + m.val_bpb.toFixed(3) + " bits per byte";
    text.textContent = m.text;
    root.dataset.moment = String(i);
  }
  slider.addEventListener("input", () => draw(Number(slider.value)));
  draw(Number(slider.value));
})();
"""


def timeline(metrics: dict, title: str = "") -> HTML:
    """The timeline of one run's `metrics` (with "timeline", "history" and "budget_s")."""
    moments = metrics.get("timeline") or []
    if not moments:
        return note("This run recorded no samples over time: train it with "
                    "TrainConfig(sample_at_s=(5, 15, 30, 60)).")
    data = {"moments": moments, "budget_s": metrics.get("budget_s") or moments[-1]["at_s"],
            "history": [{"elapsed_s": r["elapsed_s"], "val_bpb": r["val_bpb"]}
                        for r in metrics.get("history", []) if r.get("val_bpb") is not None]}
    for m in moments:  # the curve also passes through every moment's own score
        data["history"].append({"elapsed_s": m["elapsed_s"], "val_bpb": m["val_bpb"]})
    data["history"].sort(key=lambda r: r["elapsed_s"])
    root = f"tinylm-timeline-{uuid.uuid4().hex[:10]}"
    last = len(moments) - 1
    markup = (
        f'<div id="{root}" data-tinylm-timeline class="tinylm-timeline" '
        'style="border:1px solid #ddd;border-radius:6px;padding:8px 12px;max-width:720px">'
        f'<script type="application/json">{script_json(data)}</script>'
        + (f"<b>{html.escape(title)}</b><br>" if title else "")
        + f'<input type="range" min="0" max="{last}" step="1" value="{last}" '
        'style="width:100%" aria-label="moment of training">'
        '<div data-part="moment" style="font-size:90%;margin:4px 0"></div>'
        '<svg width="480" height="140" role="img" aria-label="validation bits per byte so far">'
        '</svg>'
        '<div data-part="text" style="white-space:pre-wrap;font-family:monospace;'
        'background:#f7f7f7;padding:6px;border-radius:4px;min-height:3em"></div>'
        f"<script>{SCRIPT % {'id': json.dumps(root)}}</script></div>")
    plain = "\n".join(f"{m['at_s']:g} s: {m['val_bpb']:.3f} bpb | {m['text']}" for m in moments)
    return HTML(markup, plain)


def load_timeline(study: str = STUDY) -> dict | None:
    """The stored run's metrics (with its timeline), or None when it was never measured."""
    path = Path(results_dir()) / study / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None
