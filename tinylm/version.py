"""The package version and the project's public address, one home each.

The book's launch buttons (`book/configure.py` writes them into `book/_config.yml`) and the
chapters' Colab install line come from `PROJECT_URL`. While it is None the book has neither,
so a reader is never sent to a placeholder repository.
"""

from __future__ import annotations

__version__ = "0.1.0"

# The public git repository, e.g. "https://github.com/OWNER/tinylm"; None until published.
# After changing it run `python book/configure.py` (tests/test_platforms.py checks it was run).
PROJECT_URL: str | None = None
PROJECT_BRANCH = "main"


def install_line(url: str | None = None, branch: str | None = None) -> str | None:
    """The notebook line that installs tinylm from the public repository, or None without one.
    It installs the package's own dependencies only: Colab's preinstalled (CUDA) torch stays."""
    url = url or PROJECT_URL
    if url is None:
        return None
    return f'%pip install --quiet "tinylm @ git+{url}@{branch or PROJECT_BRANCH}"'


def colab_cell(url: str | None = None, branch: str | None = None) -> str:
    """Source of the first code cell of each chapter (`book/configure.py` writes it): on Colab,
    install tinylm (only once the project has a public address) and turn on the widget manager
    ipywidgets 8 needs there (googlecolab/colabtools#3020); elsewhere it does nothing."""
    line = install_line(url, branch)
    what = "install tinylm and enable its widgets" if line else "enable tinylm's widgets"
    install = f"    {line}\n" if line else ""
    return (f"# On Google Colab: {what} (elsewhere this does nothing)\n"
            "import sys\n\n"
            'if "google.colab" in sys.modules:\n'
            f"{install}"
            "    from google.colab import output\n\n"
            "    output.enable_custom_widget_manager()")
