"""Build the book: `python book/build.py` (full: every chapter trains for real) or
`python book/build.py --quick` (TINYLM_QUICK=1: a few seconds per training, a smoke test).

Each mode has its own output folder and execution cache (`book/_build` and `book/_build-quick`):
the cache is keyed by the notebooks' code, not by the mode, so a quick build run into the full
build's folder would be served as the real one. The data folder is passed to the notebooks as
an absolute path: they execute in `chapters/`, where a relative one points elsewhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = {False: ROOT / "book", True: ROOT / "book" / "quick"}  # HTML in <output>/_build/html


def command(out: Path) -> list[str]:
    """The Jupyter Book 1 command, from the repository root, warnings as errors."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return [str(jupyter_book), "build", ".", "--config", "book/_config.yml", "--toc",
            "book/_toc.yml", "--path-output", str(out), "-W", "--keep-going"]


def environment(quick: bool, data_dir: str | None) -> dict:
    env = dict(os.environ)
    env["TINYLM_QUICK"] = "1" if quick else "0"
    data = data_dir or env.get("TINYLM_DATA_DIR")
    if data is None and (ROOT.parent / "shared" / "data" / "tinystories").is_dir():
        data = str(ROOT.parent / "shared" / "data")  # the offline copies beside a checkout
    if data:
        env["TINYLM_DATA_DIR"] = str(Path(data).resolve())
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="TINYLM_QUICK=1: seconds per training")
    p.add_argument("--data", help="local corpora folder (default: $TINYLM_DATA_DIR, or "
                   "../shared/data beside the checkout if present)")
    p.add_argument("--out", type=Path, help="output folder (default: book/ or book/quick/)")
    args = p.parse_args(argv)
    out = (args.out or OUTPUTS[args.quick]).resolve()
    env = environment(args.quick, args.data)
    # nb.live_sampler writes the chapters' sampler pages straight into this build's _static
    # (Sphinx adds html_static_path's files there and deletes none): the quick, the full and a
    # test's build each serve their own models. Unset elsewhere, it writes nothing.
    static = out / "_build" / "html" / "_static"
    static.mkdir(parents=True, exist_ok=True)
    env["TINYLM_BOOK_STATIC"] = str(static)
    result = subprocess.run(command(out), cwd=ROOT, env=env)
    if result.returncode == 0:
        print(f"book: {out / '_build' / 'html' / 'index.html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
