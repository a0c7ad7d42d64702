"""Write what follows from `tinylm.version.PROJECT_URL`: the launch-button part of
book/_config.yml and the first cell of every chapter (Colab set-up, `tinylm.version.colab_cell`).

    python book/configure.py          # rewrite the block between the markers and the cells
    python book/configure.py --check  # exit 1 if either is out of date

Jupyter Book reads a static YAML file, so the one setting is copied into it here. Without a
public address the block holds no repository and no launch buttons (a button to a placeholder
is a dead link); Colab opens notebooks from GitHub only, so its button needs a GitHub address.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "book" / "_config.yml"
BEGIN = "# BEGIN launch buttons: written by `python book/configure.py`, do not edit"
END = "# END launch buttons"


def launch_block(url: str | None, branch: str = "main") -> str:
    """The YAML between the markers for a public address (or None: no address yet)."""
    if not url:
        return ("# No public address yet (tinylm.version.PROJECT_URL is None): no repository\n"
                "# link and no launch buttons.")
    url = url.rstrip("/").removesuffix(".git")
    lines = ["repository:", f"  url: {url}", f"  branch: {branch}", "launch_buttons:",
             "  notebook_interface: jupyterlab", "  binderhub_url: https://mybinder.org"]
    if url.startswith("https://github.com/"):
        lines.append("  colab_url: https://colab.research.google.com")
    return "\n".join(lines + ["html:", "  use_repository_button: true"])


def configured(text: str, url: str | None, branch: str = "main") -> str:
    """`text` (the config file) with its launch-button block replaced."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{CONFIG} lacks the launch-button markers; put the lines {BEGIN!r} "
                         f"and {END!r} back at the top level")
    head, rest = text.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{launch_block(url, branch)}\n{END}{rest.split(END, 1)[1]}"


CELL_TAGS = ["colab-setup", "remove-cell"]  # found again by its tag; not shown in the book


def with_colab_cell(path: Path, source: str) -> str:
    """The notebook at `path` (as JSON text) whose first cell is the Colab set-up cell."""
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": CELL_TAGS}, id="colab-setup")
    cells = [c for c in nb.cells if "colab-setup" not in c.metadata.get("tags", [])]
    if cells and cells[0].cell_type == "markdown":  # after the chapter's title
        nb.cells = [cells[0], cell, *cells[1:]]
    else:
        nb.cells = [cell, *cells]
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    from tinylm.version import PROJECT_BRANCH, PROJECT_URL, colab_cell

    wanted = {CONFIG: configured(CONFIG.read_text(), PROJECT_URL, PROJECT_BRANCH)}
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        wanted[nb] = with_colab_cell(nb, colab_cell(PROJECT_URL, PROJECT_BRANCH))
    stale = [path for path, text in wanted.items() if path.read_text() != text]
    if "--check" in (argv if argv is not None else sys.argv[1:]):
        for path in stale:
            print(f"{path} is out of date with PROJECT_URL: run python book/configure.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
