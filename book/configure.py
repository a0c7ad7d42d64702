"""Write the launch-button part of book/_config.yml from `tinylm.version.PROJECT_URL`.

    python book/configure.py          # rewrite the block between the markers
    python book/configure.py --check  # exit 1 if the block is out of date

Jupyter Book reads a static YAML file, so the one setting is copied into it here. Without a
public address the block holds no repository and no launch buttons (a button to a placeholder
is a dead link); Colab opens notebooks from GitHub only, so its button needs a GitHub address.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from tinylm.version import PROJECT_BRANCH, PROJECT_URL

    text = CONFIG.read_text()
    new = configured(text, PROJECT_URL, PROJECT_BRANCH)
    if "--check" in (argv if argv is not None else sys.argv[1:]):
        if new != text:
            print(f"{CONFIG} is out of date with PROJECT_URL: run python book/configure.py")
            return 1
        return 0
    CONFIG.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
