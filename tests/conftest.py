"""Shared fixtures: real text from ../shared/data, a private token cache, no network."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from fast import FAST_TRAIN, SMALL_DATA, TINY_MODEL

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TINYLM_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(autouse=True, scope="session")
def _environment(tmp_path_factory):
    """Point tinylm at the shared corpora and a fresh cache; make any network use fail."""
    if not (SHARED_DATA / "tinystories").is_dir():
        pytest.exit(f"tests need the shared corpora at {SHARED_DATA} (set TINYLM_DATA_DIR)", 2)
    os.environ["TINYLM_DATA_DIR"] = str(SHARED_DATA)
    os.environ["TINYLM_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy",
                 "all_proxy", "HF_ENDPOINT"):  # a proxy would skip the offline Hub probe
        os.environ.pop(name, None)
    yield


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("tests must not use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="session")
def small_data():
    """TinyStories capped to 1 MB with a 512-token vocabulary: prepares in about a second."""
    import tinylm

    return tinylm.prepare(tinylm.DataConfig(**SMALL_DATA), progress=False)


@pytest.fixture(scope="session")
def tiny_model_cfg(small_data):
    import tinylm

    return tinylm.ModelConfig(vocab_size=small_data.vocab_size, **TINY_MODEL)


@pytest.fixture(scope="session")
def fast_cfg():
    """`fast_cfg(budget_s=2, ...)`: the fast TrainConfig with some settings changed."""
    import tinylm

    return lambda **changes: tinylm.TrainConfig(**{**FAST_TRAIN, **changes})


@pytest.fixture(scope="session")
def quick_book_html(tmp_path_factory) -> Path:
    """The book built once per session in quick mode by the documented `book/build.py --quick`
    (into a temporary folder), with `-W` so any warning (a broken reference, a failed cell)
    fails it. Its HTML folder; test_book.py and test_browser.py both use it."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("book")
    cmd = [sys.executable, "book/build.py", "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"book build failed:\n{(proc.stdout + proc.stderr)[-6000:]}"
    return out / "_build" / "html"
