"""Set-up on every platform: quickstart's checks (old Pythons, Intel Macs, Rosetta, CPU torch
for Linux without an NVIDIA GPU), the book's launch buttons and Colab line from the one public
address, and the Binder folder. Nothing is installed or downloaded."""

from __future__ import annotations

import ast
import gzip
import importlib.util
import os
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tinylm import version
from tinylm.core.corpus import Corpus, load_corpus

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str):
    """Import a script of the repository (quickstart.py, book/configure.py) as a module."""
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- book, Colab, Binder


def test_no_launch_buttons_without_a_public_address():
    configure = load_script("book/configure.py")
    assert configure.main(["--check"]) == 0, "run: python book/configure.py"
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    if version.PROJECT_URL is None:
        assert "launch_buttons" not in config and "repository" not in config
        assert version.install_line() is None and "%pip" not in version.colab_cell()
    github = yaml.safe_load(configure.launch_block("https://github.com/someone/tinylm.git"))
    assert github["repository"]["url"] == "https://github.com/someone/tinylm"
    assert github["launch_buttons"]["colab_url"] and github["launch_buttons"]["binderhub_url"]
    other = yaml.safe_load(configure.launch_block("https://gitlab.com/someone/tinylm"))
    assert "colab_url" not in other["launch_buttons"]  # Colab opens GitHub notebooks only
    with pytest.raises(ValueError, match="markers"):
        configure.configured("title: x\n", "https://github.com/a/b")


def test_colab_cell_installs_from_the_address_and_is_valid_ipython():
    from IPython.core.inputtransformer2 import TransformerManager

    cell = version.colab_cell("https://github.com/someone/tinylm", "main")
    assert 'git+https://github.com/someone/tinylm@main"' in cell and "google.colab" in cell
    compile(TransformerManager().transform_cell(cell), "cell", "exec")
    assert "enable_custom_widget_manager" in version.colab_cell(None)  # no address: no install
    compile(version.colab_cell(None), "cell", "exec")


def test_every_chapter_opens_with_the_colab_cell(monkeypatch):
    """It does nothing outside Colab: run it here, then with a fake google.colab module."""
    import json
    import sys
    import types

    configure = load_script("book/configure.py")
    cells = {}
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):  # the appendices too
        first = next(c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        assert "colab-setup" in first["metadata"].get("tags", []), nb.name
        assert "".join(first["source"]) == version.colab_cell(), "run: python book/configure.py"
        cells[nb.name] = "".join(first["source"])
    assert len(cells) == 9 and configure.main(["--check"]) == 0
    exec(version.colab_cell(), {})  # not Colab: nothing happens
    calls = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    exec(version.colab_cell(), {})
    assert calls == [1]


def test_binder_folder():
    binder = ROOT / "binder"
    lines = [x.split("#")[0].strip() for x in (binder / "requirements.txt").read_text().splitlines()]
    nested = next(x for x in lines if x.startswith("-r")).split()[1]
    assert (binder / nested).resolve() == ROOT / "requirements.txt"
    cpu_torch = next(x for x in lines if x.startswith("torch=="))
    pinned = next(x for x in (ROOT / "requirements.txt").read_text().splitlines()
                  if x.startswith("torch=="))
    assert cpu_torch.endswith("+cpu") and cpu_torch.split("==")[1] in SpecifierSet(pinned[5:])
    assert any("download.pytorch.org/whl/cpu" in x for x in lines)
    for script in ("postBuild", "start"):
        assert os.access(binder / script, os.X_OK)
    assert (binder / "start").read_text().rstrip().endswith('exec "$@"')


def test_binder_data_slice_reads_back(monkeypatch, tmp_path):
    fetch = load_script("binder/fetch_data.py")
    docs = ["Once upon a time there was a cat.", "The dog ran.\n\nThen it slept."]
    fetch.write_corpus(Corpus("tinystories", docs, ["A small story."], "test"), tmp_path)
    monkeypatch.setenv("TINYLM_DATA_DIR", str(tmp_path))
    back = load_corpus("tinystories")
    assert back.train == docs and back.validation == ["A small story."]
    with gzip.open(tmp_path / "tinystories" / "train-0.txt.gz", "rt") as f:
        assert "<|endoftext|>" in f.read()


# ---------------------------------------------------------------- quickstart


@pytest.fixture(scope="module")
def quickstart():
    return load_script("quickstart.py")


def test_quickstart_parses_on_old_pythons():
    """macOS's own python3 (3.9) and older ones must reach the version message."""
    ast.parse((ROOT / "quickstart.py").read_text(), feature_version=(3, 6))


@pytest.mark.parametrize("system, says", [("Darwin", "brew install python@3.12"),
                                          ("Windows", "winget install Python.Python.3.12"),
                                          ("Linux", "uv python install")])
def test_quickstart_checks_python_first(quickstart, system, says):
    problem = quickstart.python_problem((3, 9, 6), system, "arm64")
    assert "3.10 or newer" in problem and "3.9.6" in problem and says in problem
    assert quickstart.python_problem((3, 12, 1), system, "arm64") is None


def test_quickstart_intel_mac_and_rosetta(quickstart):
    assert "no wheels for Intel Macs" in quickstart.python_problem((3, 12), "Darwin", "x86_64")
    assert "arm64 Python" in quickstart.python_problem((3, 12), "Darwin", "x86_64", True)


def test_quickstart_cpu_torch_for_linux_without_nvidia(quickstart):
    assert quickstart.wants_cpu_torch("Linux", "x86_64", nvidia=False)
    assert not quickstart.wants_cpu_torch("Linux", "x86_64", nvidia=True)
    assert not quickstart.wants_cpu_torch("Darwin", "arm64", nvidia=False)
    assert not quickstart.wants_cpu_torch("Windows", "AMD64", nvidia=False)
    assert quickstart.wants_cpu_torch("Linux", "x86_64", nvidia=True, choice="cpu")
    assert not quickstart.wants_cpu_torch("Linux", "x86_64", nvidia=False, choice="default")
    plan = quickstart.install_plan(Path(".venv/bin/python"), ROOT / "requirements.txt", True)
    torch_step = plan[1]
    assert "torch==2.13.0" in torch_step and quickstart.TORCH_CPU_INDEX in torch_step
    assert plan[-1][-4:-2] == ["-r", str(ROOT / "requirements.txt")]
    assert quickstart.venv_python(Path("v"), "Windows") == Path("v/Scripts/python.exe")


def test_quickstart_compiles_once_before_the_timed_run(quickstart, monkeypatch, tmp_path):
    """The first compile happens in set-up (timed apart), not inside the first 60 s budget."""
    calls = []
    monkeypatch.setattr(quickstart, "VENV", tmp_path)
    monkeypatch.setattr(quickstart.subprocess, "call",
                        lambda cmd, **kw: calls.append(cmd) or 0)
    quickstart.warm_up(Path("py"), {}, ["--budget", "60", "--width", "64"])
    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "tinylm", "train"] and cmd[4:8] == ["--budget", "60", "--width", "64"]
    assert cmd[cmd.index("--steps") + 1] == "1"  # one step with the same settings
    assert (tmp_path / ".tinylm-compiled").read_text() == "ok"
    quickstart.warm_up(Path("py"), {}, ["--budget", "60"])
    assert len(calls) == 1  # later runs reuse the compiled kernels
