"""Print the markdown tables of benchmarks/LOG.md from the stored results (no training).

    python -m benchmarks.report [ideas|STUDY]
"""

from __future__ import annotations

import sys

from tinylm.lab.results import read_study, results_dir

# The verdict on each screened idea (the measurements are read from the results).
VERDICTS = {
    ("screen-90s", "optimizer=muon"): "kept",
    ("screen-90s", "positions=rotary"): "kept (Goedecke found learned better; here rotary won)",
    ("screen-90s", "norm=rmsnorm,mlp=relu2"): "dropped (within noise)",
    ("screen-90s", "mlp=swiglu"): "dropped",
    ("screen-90s", "tie_embeddings=false"): "kept",
    ("screen-90s", "qk_norm=true"): "dropped",
    ("screen-90s", "zero_init_proj=true"): "dropped",
    ("screen-90s", "logit_softcap=15"): "dropped",
    ("screen-90s", "decay=linear"): "kept, then replaced by wsd",
    ("screen-90s", "vocab_size=2048"): "dropped: more tokens/s, same bits per byte",
    ("screen-90s", "heads=1"): "retested on S",
    ("screen-90s", "lr=0.008"): "dropped for AdamW; retested with Muon",
    ("screen-90s", "batch_size=16"): "dropped (fewer optimizer steps)",
    ("screen2-90s", "muon_lr_scale=1"): "dropped (scale 5 kept)",
    ("screen2-90s", "muon_lr_scale=2.5"): "within noise of 5",
    ("screen2-90s", "muon_lr_scale=10"): "dropped",
    ("screen2-90s", "lr=0.008"): "retested in screen3: lost there",
    ("screen2-90s", "heads=1"): "retested in screen3: lost there",
    ("screen2-90s", "norm=rmsnorm,mlp=relu2"): "dropped",
    ("screen2-90s", "vocab_size=2048"): "dropped (within noise)",
    ("screen2-90s", "decay=wsd"): "kept: S + wsd is the default recipe",
    ("screen2-90s", "lr=0.002"): "dropped",
}


def rows(study: str) -> list[dict]:
    """The study's summary rows, labelled as stored (the verdicts above are keyed by those)."""
    found = read_study(results_dir() / study)
    return found.rows if found else []


def change(label: str, base: str) -> str:
    return label[len(base):].lstrip(",") or "(base)"


def ideas_table() -> str:
    out = ["| study | change | val_bpb | vs base | tokens/s | verdict |", "|---|---|---|---|---|---|"]
    for study in ("screen-90s", "screen2-90s", "screen3-90s"):
        rs = rows(study)
        if not rs:
            continue
        base = rs[0]["recipe"]
        for r in rs:
            c = change(r["recipe"], base)
            verdict = VERDICTS.get((study, c), "")
            out.append(f"| {study} | `{c}` | {r['val_bpb']:.4f} | {100 * (r['bpb_ratio'] - 1):+.1f}% | "
                       f"{r['tokens_per_s']:,.0f} | {verdict} |")
    return "\n".join(out)


def study_table(study: str) -> str:
    f = results_dir() / study / "summary.md"
    return f.read_text() if f.exists() else f"(study {study} not run yet)\n"


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "ideas"
    print(ideas_table() if what == "ideas" else study_table(what))
