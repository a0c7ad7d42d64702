"""The import rules: each layer folder imports only its own layer and those below it, nothing
loads the notebook libraries but the notebook layer, imports form no cycle, and every module
stays short enough to read in one sitting.

The layers are drawn in LAYOUT.md; `LAYERS` below is the order this test enforces.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tinylm"
NOTEBOOK_ONLY = ("matplotlib", "ipywidgets", "IPython")
MAX_LINES = 300
LAYERS = [  # bottom first; a module imports only from its own layer or lower ones
    {"tinylm.version", "tinylm.options", "tinylm.measured"},
    {"tinylm.machine"},
    {"tinylm.core"},
    {"tinylm.tuning"},
    {"tinylm.runs"},
    {"tinylm.lab"},
    {"tinylm.web", "tinylm.course"},
    {"tinylm.notebook"},
    {"tinylm.cli"},  # the command line is an entry point: `class page` draws with the notebook's figures
    {"tinylm", "tinylm.__main__"},  # the package's front door may re-export any layer
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_core_modules_do_not_import_the_notebook_libraries():
    core = [m for m in MODULES if not m.startswith("tinylm.notebook") and m != "tinylm.__main__"]
    assert {"tinylm", "tinylm.cli.main", "tinylm.lab.results", "tinylm.lab.recipes"} <= set(core)
    code = (f"import importlib, json, sys\nfor m in {core!r}: importlib.import_module(m)\n"
            f"print(json.dumps([m for m in {NOTEBOOK_ONLY!r} if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == [], \
        "a core module imports a notebook library (move that code under tinylm/notebook/)"


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name `from <level dots><name>` means inside `module`."""
    if not level:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports(module: str) -> set[str]:
    """The modules of this package that `module` imports (in functions too): a submodule
    imported by name is an edge to it; any other name is an edge to the package's __init__."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                out.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
    return {m for m in out if m in MODULES and m != module}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` ({module: modules it imports}) as a path, or None."""
    done, path = set(), []

    def visit(m: str) -> list[str] | None:
        if m in path:
            return path[path.index(m):] + [m]
        if m in done:
            return None
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if cycle := visit(n):
                return cycle
        path.pop()
        done.add(m)
        return None

    return next((c for m in sorted(graph) if (c := visit(m))), None)


def test_imports_inside_the_package_have_no_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    cycle = find_cycle({m: imports(m) for m in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_graph_sees_every_kind_of_import():
    assert _resolve("tinylm.notebook", True, 1, "display") == "tinylm.notebook.display"
    assert _resolve("tinylm.notebook.views", False, 1, None) == "tinylm.notebook"
    assert _resolve("tinylm.notebook.panels.training", False, 2, "live") == "tinylm.notebook.live"
    assert _resolve("tinylm.runs.train", False, 0, "tinylm.core.models") == "tinylm.core.models"
    assert {"tinylm.notebook.display", "tinylm.notebook.panels"} <= imports("tinylm.notebook")
    training = imports("tinylm.notebook.panels.training")  # `from . import kernel`, `from ... import quick`
    assert {"tinylm.notebook.panels.kernel", "tinylm.core.quick", "tinylm.notebook.live"} <= training
    assert "tinylm.core.models" in imports("tinylm.lab.recipes")  # a name from a package: its __init__


def layer_of(module: str) -> int:
    """The index in LAYERS of the folder (or leaf module) that holds `module`."""
    for depth in range(module.count("."), -1, -1):
        prefix = module.rsplit(".", depth)[0] if depth else module
        for i, layer in enumerate(LAYERS):
            if prefix in layer and (prefix != "tinylm" or module in ("tinylm", "tinylm.__main__")):
                return i
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")


def test_no_import_runs_back_up_the_layers():
    assert layer_of("tinylm.core.models.gpt") == 2 and layer_of("tinylm.measured") == 0
    assert layer_of("tinylm.cli.main") > layer_of("tinylm.notebook.panels.training")
    upward = sorted(f"{m} -> {n}" for m in MODULES for n in imports(m)
                    if layer_of(n) > layer_of(m))
    assert not upward, "imports that run back up the layers:\n" + "\n".join(upward)


def test_every_module_is_short():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"
