"""The "Your runs" part of a training panel: one row per finished run, as a table and as CSV
(so a class can collect its results)."""

from __future__ import annotations

import html
import urllib.parse
from pathlib import Path

from tinylm.lab import classroom
from tinylm.lab.class_files import RESULT_COLUMNS
from tinylm.notebook.live import results_png


def result_row(run: int, settings: dict, cfg, metrics: dict, status: str) -> dict:
    """The row of a finished run (RESULT_COLUMNS): the panel's settings and the run's scores."""
    m, s = metrics, settings
    return {"run": run, "corpus": s["corpus"], "vocab": s["vocab"], "width": cfg.width,
            "layers": cfg.layers, "heads": cfg.heads, "context": cfg.context,
            "batch_size": s["batch_size"], "lr": float(f"{s['lr']:.3g}"),
            "budget_s": s["budget_s"], "train_s": round(m["train_seconds"], 1),
            "tokens": m["tokens_seen"], "params": m["params"],
            "val_bpb": round(m["val_bpb"], 4), "val_ppl": round(m["val_ppl"], 2), "status": status}


def to_csv(rows: list[dict], student: str | None = None) -> str:
    """The runs as CSV in the class's export format (`tinylm.lab.classroom.to_csv`: with this
    laptop's id, the student's name and each run's tokens per second)."""
    return classroom.to_csv(rows, student=student)


def table_html(rows: list[dict]) -> str:
    """The runs, newest first, in a scrolling table."""
    head = "".join(f"<th>{c}</th>" for c in RESULT_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in RESULT_COLUMNS)
                   + "</tr>" for r in reversed(rows))
    return ("<div style='max-height:14em;overflow:auto'><table class='tinylm-results' "
            "style='font-size:85%;border-collapse:collapse' border='1' cellpadding='3'>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def csv_link_html(rows: list[dict], student: str | None = None) -> str:
    """A link that downloads the runs as CSV, named after the student (the data is in the link:
    works in the built book)."""
    href = "data:text/csv;charset=utf-8," + urllib.parse.quote(to_csv(rows, student))
    name = html.escape(classroom.csv_name(student), quote=True)
    return f"<a download='{name}' href='{href}'>download the table as CSV ({name})</a>"


class Results:
    """The training panel's finished runs: the table, the plot and the class CSV."""

    def to_csv(self) -> str:
        """The finished runs as CSV text (one row per run, with the student's name), to collect
        a class's results."""
        return to_csv(self.results, self.student)

    @property
    def csv_name(self) -> str:
        """The export's file name: tinylm-runs-<student>.csv (tinylm-runs.csv without a name)."""
        return classroom.csv_name(self.student)

    def save_csv(self, path: str | Path | None = None) -> Path:
        path = Path(path or self.csv_name)
        path.write_text(self.to_csv())
        self.csv_link.value = f"saved {html.escape(str(path.resolve()))}"
        return path

    def _show_results(self) -> None:
        self.results_table.value = table_html(self.results)
        self.results_plot.value = results_png(self.results)
        self.results_plot.layout.display = None
        self.csv_link.value = csv_link_html(self.results, self.student)
        self.export_button.disabled = False
