"""How long each page of a built book is, as a reader sees it: screens at a laptop's size and
tables shown. A chapter meant for a class should fit in about ten screens with a few tables.

    python -m benchmarks.page_length book/_build/html --out benchmarks/results/page_length/NAME.json

Screens are the page's rendered height over a 1280 x 800 viewport, with hidden solutions
folded as the book shows them. Chromium is Debian's, driven by playwright (tests/browser/lab.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1280, "height": 800}
MEASURE_JS = """() => ({
  height: document.documentElement.scrollHeight,
  tables: document.querySelectorAll('.cell_output table, article table.tinylm-table').length,
  tinylm_tables: document.querySelectorAll('.tinylm-table').length,
})"""


def measure(html_dir: Path, browser=None) -> list[dict]:
    """One row per chapter page: its screens at 1280 x 800 and its tables (in `browser`, or
    a Chromium started here)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import lab

    if browser is None:
        with lab.chromium() as started:
            return measure(html_dir, started)
    rows = []
    with lab.static_server(html_dir) as url:
        for path in sorted((html_dir / "chapters").glob("*.html")):
            with lab.new_page(browser) as page:
                page.set_viewport_size(VIEWPORT)
                page.goto(f"{url}/chapters/{path.name}")
                page.wait_for_load_state("load")
                page.wait_for_timeout(1000)  # MathJax and widgets settle
                got = page.evaluate(MEASURE_JS)
            rows.append({"page": path.stem, "screens": round(got["height"] / VIEWPORT["height"], 1),
                         "tables": got["tinylm_tables"], "all_tables": got["tables"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html", type=Path, help="the built book's HTML folder")
    p.add_argument("--out", type=Path, help="write the rows here as JSON")
    args = p.parse_args(argv)
    rows = measure(args.html.resolve())
    for r in rows:
        print(f"{r['page']:<20} {r['screens']:>5} screens  {r['tables']:>2} tables")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"viewport": VIEWPORT, "pages": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
