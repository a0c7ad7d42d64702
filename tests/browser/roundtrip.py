"""Measure the retrain round trip a student sees: press Train (30 s budget) until the sample story
is visible, in JupyterLab in Chromium, at full size (no quick mode).

    TINYLM_DATA_DIR=../shared/data .venv/bin/python tests/browser/roundtrip.py [--budget 30]
        [--runs 2] [--cache DIR]

Without --cache the token cache starts empty, so the first run includes preparing the data.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import lab  # tests/browser/lab.py (this script's folder is on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=30)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--cache", help="token cache folder (default: a fresh, empty one)")
    args = ap.parse_args()
    os.environ.setdefault("TINYLM_DATA_DIR", str(lab.ROOT.parent / "shared" / "data"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["TINYLM_CACHE_DIR"] = args.cache or str(tmp / "cache")
        root = tmp / "lab"
        root.mkdir()
        lab.write_notebook(root / "roundtrip.ipynb", [
            lab.IMPORT_CELL, f"nb.training_panel(budget={args.budget})"])
        with lab.jupyter_lab(root, tmp / "lab.log", quick=False) as url, lab.chromium() as browser, \
                lab.new_page(browser) as page:
            from playwright.sync_api import expect

            lab.open_notebook(page, url, "roundtrip.ipynb")
            lab.run_all_cells(page)
            panel = page.locator(".jp-NotebookPanel:visible .tinylm-training-panel")
            expect(panel.locator(".tinylm-tokens-label")).to_contain_text("expect", timeout=120_000)
            print("before training:", panel.locator(".tinylm-tokens-label").inner_text())
            rows = panel.locator(".tinylm-results-table tbody tr")
            for run in range(1, args.runs + 1):
                started = time.monotonic()
                panel.locator(".tinylm-train-button").click()
                expect(rows).to_have_count(run, timeout=600_000)
                expect(panel.locator(".tinylm-sample-output")).to_contain_text("Once upon a time")
                seconds = time.monotonic() - started
                status = panel.locator(".tinylm-status").inner_text()
                metrics = panel.locator(".tinylm-metrics-label").inner_text()
                kernel_s = re.search(r"in ([\d.]+) s from pressing", status)
                print(f"run {run}: click to visible sample {seconds:.1f} s (kernel side "
                      f"{kernel_s.group(1) if kernel_s else '?'} s); {metrics}")


if __name__ == "__main__":
    main()
